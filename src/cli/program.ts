import fs from 'node:fs';
import { Command } from 'commander';
import { registerBackup } from './commands/backup.js';
import { registerBrowse } from './commands/browse.js';
import { registerBucket } from './commands/bucket.js';
import { registerConnect } from './commands/connect.js';
import { registerCron } from './commands/cron.js';
import { registerDb, registerRedis } from './commands/db.js';
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
import { registerScale } from './commands/scale.js';
import { registerServer } from './commands/server.js';
import { registerService } from './commands/service.js';
import { registerSsh } from './commands/ssh.js';
import { registerStatus } from './commands/status.js';
import { registerTeardown } from './commands/teardown.js';
import { registerToken } from './commands/token.js';
import { registerUp } from './commands/up.js';
import { registerVariables } from './commands/variables.js';
import { registerWaf } from './commands/waf.js';
import { addExamples } from './help.js';

/** The `berth` program: every command registered, each with its example (help.ts). */

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

export function buildProgram(): Command {
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
  registerCron(program);
  registerScale(program);
  registerLifecycle(program);
  registerTeardown(program);
  registerBrowse(program);
  registerVariables(program);
  registerService(program);
  registerToken(program);
  registerRun(program);
  registerSsh(program);
  registerConnect(program);
  registerDb(program);
  registerBackup(program);
  registerBucket(program);
  registerRedis(program);
  registerMasterKey(program);
  addExamples(program);
  return program;
}
