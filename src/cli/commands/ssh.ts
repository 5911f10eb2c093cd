import type { Command } from 'commander';
import { type ContextFlags, resolveTarget } from '../context.js';
import { CliError } from '../errors.js';
import { printErr } from '../output.js';
import { contextFlags, makeClient, withContextOptions } from './shared.js';

/**
 * `berth ssh`: a shell or one command inside a running replica's world, through the API (works against a remote
 * server, and with a project token of that environment). With a terminal, an interactive shell gets a
 * pseudo-terminal on the server and this terminal goes raw; a command runs without one (its output stays
 * byte-exact). The command's exit code is this command's.
 */

interface SshFlags extends ContextFlags {
  replica?: string;
}

export function registerSsh(program: Command): void {
  withContextOptions(
    program
      .command('ssh')
      .description(
        'open a shell, or run one command, inside a running replica: its directory, variables, user and sandbox',
      )
      .argument('[command...]', 'the command and its arguments, after `--` (default: an interactive shell)')
      .option('--replica <n>', 'which replica (default: the first running one)')
      .passThroughOptions(),
  ).action(async (command: string[], opts: SshFlags) => {
    const target = resolveTarget(contextFlags(opts));
    const replica = opts.replica === undefined ? undefined : Number(opts.replica);
    if (replica !== undefined && !Number.isInteger(replica)) {
      throw new CliError(`--replica takes a replica number, not "${opts.replica}"`);
    }
    const argv = command.length > 0 ? command : null;
    const tty = argv === null && process.stdin.isTTY === true && process.stdout.isTTY === true;
    if (tty) {
      printErr(`Connected to ${target.service} (${target.environment}); type \`exit\` to leave`);
      process.stdin.setRawMode(true);
    }
    try {
      process.exitCode = await makeClient().exec(
        target,
        {
          argv,
          replica,
          tty,
          size:
            tty && process.stdout.columns && process.stdout.rows
              ? { cols: process.stdout.columns, rows: process.stdout.rows }
              : undefined,
        },
        { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr },
      );
    } finally {
      if (tty) process.stdin.setRawMode(false);
    }
  });
}
