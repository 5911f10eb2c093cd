// First: the flag it sets must be in place before the other modules allocate.
import './young-generation.js';
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerConnect } from './commands/connect.js';
import { registerDb } from './commands/db.js';
import { registerDeployments } from './commands/deployments.js';
import { registerDomain } from './commands/domain.js';
import { registerEnvironment } from './commands/environment.js';
import { registerLifecycle } from './commands/lifecycle.js';
import { registerLogin } from './commands/login.js';
import { registerLogs } from './commands/logs.js';
import { registerMasterKey } from './commands/master-key.js';
import { registerMetrics } from './commands/metrics.js';
import { registerProject } from './commands/project.js';
import { registerRun } from './commands/run.js';
import { registerServer } from './commands/server.js';
import { registerService } from './commands/service.js';
import { registerStatus } from './commands/status.js';
import { registerToken } from './commands/token.js';
import { registerUp } from './commands/up.js';
import { registerVariables } from './commands/variables.js';
import { registerWaf } from './commands/waf.js';
import { CliError } from './errors.js';

/**
 * The `berth` CLI (bin/berth imports this file). Every failure ends as one line on stderr,
 * `Error: <sentence>`, and exit code 1; stacks only with BERTH_DEBUG=1.
 */

function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function buildProgram(): Command {
  const program = new Command('berth')
    .description('Berth: a self-hosted deployment platform that runs Railway-configured apps unchanged')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help')
    .exitOverride()
    .enablePositionalOptions()
    .showSuggestionAfterError(true);

  registerServer(program);
  registerLogin(program);
  registerProject(program);
  registerEnvironment(program);
  registerDomain(program);
  registerWaf(program);
  registerUp(program);
  registerStatus(program);
  registerDeployments(program);
  registerLogs(program);
  registerMetrics(program);
  registerLifecycle(program);
  registerVariables(program);
  registerService(program);
  registerToken(program);
  registerRun(program);
  registerConnect(program);
  registerDb(program);
  registerMasterKey(program);
  return program;
}

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
    await buildProgram().parseAsync(argv);
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
