import { spawn } from 'node:child_process';
import os from 'node:os';
import type { Command } from 'commander';
import { type ContextFlags, resolveTarget } from '../context.js';
import { CliError } from '../errors.js';
import { printErr } from '../output.js';
import { contextFlags, makeClient, withContextOptions } from './shared.js';

/** Runs cmd with args (no shell) with the service's variables added to the environment; resolves its exit code. */
export function runWithEnv(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env });
    // Ctrl-C reaches the child directly (same terminal process group); let it decide how to exit.
    const ignore = () => {};
    const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of signals) process.on(s, ignore);
    const cleanup = () => {
      for (const s of signals) process.off(s, ignore);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      cleanup();
      if (err.code === 'ENOENT') reject(new CliError(`Command not found: ${cmd}`));
      else if (err.code === 'EACCES') reject(new CliError(`Permission denied running ${cmd}`));
      else reject(new CliError(`Could not run ${cmd}: ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      cleanup();
      if (signal) {
        const n = os.constants.signals[signal] ?? 1;
        resolve(128 + n);
      } else resolve(code ?? 1);
    });
  });
}

export function registerRun(program: Command): void {
  withContextOptions(
    program
      .command('run')
      .alias('local')
      .description("run a local command with the service's variables in its environment")
      .argument('<command>', 'program to run')
      .argument('[args...]', 'its arguments (put `--` before the command if they start with -)')
      .passThroughOptions(),
  ).action(async (cmd: string, args: string[], opts: ContextFlags) => {
    // Resolved as a deployment would see them; the server leaves out anything sealed.
    const vars = await makeClient().runVariables(resolveTarget(contextFlags(opts)));
    process.exitCode = await runWithEnv(cmd, args, { ...process.env, ...vars });
  });

  withContextOptions(
    program
      .command('shell')
      .description("open $SHELL (default /bin/sh) with the service's variables in its environment"),
  ).action(async (opts: ContextFlags) => {
    const target = resolveTarget(contextFlags(opts));
    const vars = await makeClient().runVariables(target);
    const shell = process.env.SHELL || '/bin/sh';
    if (process.stdin.isTTY) {
      printErr(
        `Entering ${shell} with the variables of ${target.service} (${target.environment}); type \`exit\` to leave`,
      );
    }
    process.exitCode = await runWithEnv(shell, [], {
      ...process.env,
      ...vars,
      IN_BERTH_SHELL: 'true',
      IN_RAILWAY_SHELL: 'true',
    });
  });
}
