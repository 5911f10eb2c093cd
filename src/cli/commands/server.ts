import path from 'node:path';
import { type Command, Option } from 'commander';
import type { ServerOptions } from '../../server/main.js';
import { DEFAULT_URL, dataDir } from '../context.js';
import { CliError } from '../errors.js';
import { port, positiveInt } from './shared.js';

interface ServerModule {
  runServer(o: ServerOptions): Promise<void>;
  stopEdge(dataDir: string): Promise<string>;
}

interface StopModule {
  stopServer(dataDir: string, opts: { all: boolean }): Promise<string[]>;
}

type EdgeChoice = NonNullable<ServerOptions['edge']>;

interface ServerFlags {
  dataDir?: string;
  apiPort: number;
  httpPort: number;
  domain: string;
  host: string;
  keepDeployments: number;
  cacheDays: number;
  deploymentLogMb: number;
  maxReplicas: number;
  regenerateCa?: boolean;
  httpsPort: number;
  https: boolean;
  acmeEmail?: string;
  acmeDirectory?: string;
  edge: EdgeChoice;
  sandbox: 'auto' | 'off';
  cgroups: 'auto' | 'off';
  stopEdge?: boolean;
}

/** Loaded only by `berth server`, so other commands stay quick to start. */
async function loadServer<T = ServerModule>(file = 'main.js'): Promise<T> {
  const href = new URL(`../../server/${file}`, import.meta.url).href;
  try {
    return (await import(href)) as T;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' && String((err as Error).message).includes(`server/${file}`)) {
      throw new CliError('The Berth server is not built in this installation; run `npm run build` first');
    }
    throw err;
  }
}

export function registerServer(program: Command): void {
  const defaultPort = Number(new URL(DEFAULT_URL).port);
  const server = program.command('server');
  server
    .command('stop')
    .description(
      'stop the server running with this data dir (by its pid file); --all also stops its edge and every app it runs',
    )
    .option('--data-dir <dir>', 'the server’s data dir (default: $BERTH_DATA_DIR or ~/.berth)')
    .option('--all', 'then stop the edge and every app process the data dir’s records name, in that order')
    .action(async (opts: { dataDir?: string; all?: boolean }) => {
      const { stopServer } = await loadServer<StopModule>('stop.js');
      const lines = await stopServer(opts.dataDir ? path.resolve(opts.dataDir) : dataDir(), {
        all: opts.all ?? false,
      });
      for (const line of lines) process.stdout.write(`${line}\n`);
    });
  server
    .description('run the Berth server (API, builds, deployments and the HTTP edge) in the foreground')
    .option('--data-dir <dir>', 'where state, builds and logs live (default: $BERTH_DATA_DIR or ~/.berth)')
    .option('--api-port <port>', 'port of the HTTP API', port, defaultPort)
    .option('--http-port <port>', 'port apps are served on (by Host header)', port, 8080)
    .option('--https-port <port>', 'port apps are served on over HTTPS (certificates by SNI)', port, 8443)
    .option('--no-https', 'serve apps over plain HTTP only')
    .option(
      '--acme-email <email>',
      'get certificates for custom domains automatically (ACME HTTP-01; the CA must reach port 80 of the domain)',
      process.env.BERTH_ACME_EMAIL,
    )
    .option(
      '--acme-directory <url>',
      "ACME directory URL (default: Let's Encrypt)",
      process.env.BERTH_ACME_DIRECTORY,
    )
    .option('--domain <domain>', 'base domain of app URLs', 'localhost')
    .option('--host <host>', 'address the API binds to', '127.0.0.1')
    .addOption(
      new Option(
        '--edge <kind>',
        'edge data plane: haproxy, builtin (a Node proxy), or auto (haproxy when installed, else builtin)',
      )
        .choices(['auto', 'haproxy', 'builtin'])
        .default('auto'),
    )
    .option(
      '--keep-deployments <n>',
      'builds and sources kept on disk per service and environment',
      positiveInt,
      10,
    )
    .option(
      '--cache-days <n>',
      'days a dependency install (node_modules, virtualenv) may go unused before it leaves the build cache',
      positiveInt,
      14,
    )
    .option('--max-replicas <n>', 'most replicas one deployment may ask for (numReplicas)', positiveInt, 64)
    .option(
      '--deployment-log-mb <n>',
      'MiB of log kept per deployment (build, deploy and app output); older lines are dropped',
      positiveInt,
      20,
    )
    .option(
      '--regenerate-ca',
      'replace the local CA (<data-dir>/ca) with a new one limited to --domain and re-issue its certificates',
    )
    .addOption(
      new Option(
        '--sandbox <mode>',
        "users' code (builds, preDeployCommands, apps): auto runs it as a user of its own per service in a bubblewrap sandbox when the server runs as root; off runs it as the server's user",
      )
        .choices(['auto', 'off'])
        .default('auto'),
    )
    .addOption(
      new Option(
        '--cgroups <mode>',
        "replicas' memory, CPU and process limits: auto enforces them with cgroups when the server runs as root on a host that has them; off does not (berth status and deploy logs then say so)",
      )
        .choices(['auto', 'off'])
        .default('auto'),
    )
    .option(
      '--stop-edge',
      'stop the edge this data dir left running (the server must be stopped), then exit; apps keep running',
    )
    .action(async (opts: ServerFlags) => {
      const server = await loadServer();
      if (opts.stopEdge) {
        process.stdout.write(
          `${await server.stopEdge(opts.dataDir ? path.resolve(opts.dataDir) : dataDir())}\n`,
        );
        return;
      }
      await server.runServer({
        dataDir: opts.dataDir ? path.resolve(opts.dataDir) : dataDir(),
        apiPort: opts.apiPort,
        httpPort: opts.httpPort,
        domain: opts.domain,
        apiHost: opts.host,
        keepDeployments: opts.keepDeployments,
        dependencyCacheDays: opts.cacheDays,
        deploymentLogMb: opts.deploymentLogMb,
        maxReplicas: opts.maxReplicas,
        regenerateCa: opts.regenerateCa,
        httpsPort: opts.https ? opts.httpsPort : null,
        acme: opts.acmeEmail ? { email: opts.acmeEmail, directoryUrl: opts.acmeDirectory } : null,
        edge: opts.edge,
        sandbox: opts.sandbox,
        cgroups: opts.cgroups,
      });
      // runServer resolves once the server has stopped (SIGINT/SIGTERM); the CLI then exits.
    });
}
