// First: the flag it sets must be in place before the other modules allocate.
import './young-generation.js';
import { CommanderError } from 'commander';
import { CliError } from './errors.js';
import { railwayOnlyMessage } from './help.js';
import { buildProgram } from './program.js';

/**
 * The `berth` CLI (bin/berth imports this file). Every failure ends as one line on stderr,
 * `Error: <sentence>`, and exit code 1; stacks only with BERTH_DEBUG=1.
 */

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

async function main(argv: string[]): Promise<void> {
  // `berth logs | head` closes our stdout early; that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  });

  try {
    const program = buildProgram();
    const railwayOnly = railwayOnlyMessage(program, argv.slice(2));
    if (railwayOnly) throw new CliError(railwayOnly);
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help / version).
      process.exitCode = err.exitCode;
    } else {
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`Error: ${message.replace(/\s*\n[\s\S]*$/, '')}\n`);
      if (process.env.BERTH_DEBUG && err instanceof Error && err.stack)
        process.stderr.write(`${err.stack}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  }
  // Exit explicitly: idle keep-alive sockets must not hold a finished command open.
  await Promise.all([flush(process.stdout), flush(process.stderr)]);
  process.exit(process.exitCode ?? 0);
}

void main(process.argv);
