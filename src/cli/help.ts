import type { Command } from 'commander';

/**
 * Help that teaches: one example per command (`berth <command> --help` ends with it), and for a Railway verb
 * Berth does not have, a plain sentence saying so instead of a guess at the nearest command.
 */

/** By command path; test/cli/help.test.ts fails for a command without one. */
export const EXAMPLES: Record<string, string> = {
  server: 'berth server --domain apps.example.com --http-port 80 --https-port 443',
  'server stop': 'berth server stop --all',
  login: 'berth login --url https://berth.example.com:7070 --token "$BERTH_TOKEN"',
  whoami: 'berth whoami --json',
  logout: 'berth logout',
  init: 'berth init --name shop',
  link: 'berth link -p shop -e staging -s web',
  unlink: 'berth unlink',
  add: 'berth add --service worker --root-directory apps/worker',
  environment: 'berth environment staging',
  'environment edit': 'berth environment edit --service-config web deploy.startCommand "node server.js"',
  'environment new': 'berth environment new staging --duplicate production',
  'environment list': 'berth environment list --json',
  'environment delete': 'berth environment delete staging',
  domain: 'berth domain shop.example.com -s web',
  'domain list': 'berth domain list --json',
  'domain cert': 'berth domain cert shop.example.com --cert chain.pem --key key.pem',
  'domain delete': 'berth domain delete shop.example.com',
  waf: 'berth waf --rate-limit 100 --window 60 --deny-path /admin',
  up: 'berth up -s web -m "fix the login page" --ci',
  status: 'berth status --json',
  backup: 'berth backup list -s Postgres',
  'backup list': 'berth backup list -s Postgres --json',
  'backup create': 'berth backup create -s Postgres',
  'backup restore': 'berth backup restore 3f6c0d2e-… --to PostgresCopy',
  'backup schedule': 'berth backup schedule "0 */6 * * *" --keep-days 30 -s Postgres',
  deployments: 'berth deployments --limit 5',
  deployment: 'berth deployment list --json',
  'deployment up': 'berth deployment up -s web --detach',
  'deployment redeploy': 'berth deployment redeploy -s web',
  'deployment list': 'berth deployment list -s web --json',
  'deployment cancel': 'berth deployment cancel 3f6c0d2e-…',
  logs: 'berth logs -s web --build -n 100',
  metrics: 'berth metrics -s web --json',
  cron: 'berth cron runs -s nightly',
  'cron runs': 'berth cron runs -s nightly --json',
  'cron trigger': 'berth cron trigger -s nightly',
  scale: 'berth scale --replicas 4 -s web',
  rollback: 'berth rollback -s web',
  redeploy: 'berth redeploy -s web --detach',
  restart: 'berth restart -s web',
  down: 'berth down -s web -y',
  delete: 'berth delete -p shop -y',
  list: 'berth list --json',
  open: 'berth open -s web',
  variables: 'berth variables -s web --kv',
  'variables list': 'berth variables list --json',
  'variables set': 'berth variables set API_KEY=abc123 --sealed -s web',
  'variables delete': 'berth variables delete API_KEY -s web',
  'variables import': 'berth variables import .env -s web',
  service: 'berth service list',
  'service list': 'berth service list -p shop --json',
  'service status': 'berth service status -s web --json',
  'service delete': 'berth service delete -s worker -y',
  'service update': 'berth service update -s api --root-directory apps/api --replicas 2',
  webhook: 'berth webhook --generate-secret',
  token: 'berth token create -e staging --name ci',
  'token create': 'berth token create -p shop -e production --name deploy',
  'token list': 'berth token list --json',
  'token delete': 'berth token delete ci',
  run: 'berth run -s web -- npm run migrate',
  shell: 'berth shell -s web',
  ssh: 'berth ssh -s web -- printenv RAILWAY_SERVICE_NAME',
  connect: 'berth connect Postgres -- -c "select count(*) from users"',
  db: 'berth db extensions -s Postgres',
  'db public': 'berth db public on -s Postgres',
  'db pooler': 'berth db pooler on -s Postgres',
  'db branch': 'berth db branch Feature --from Postgres',
  'db sleep': 'berth db sleep --after 10m -s Postgres',
  'db restore': 'berth db restore --time 2026-11-22T10:15:03Z --name Rescue -s Postgres',
  'db config': 'berth db config set work_mem=64MB -s Postgres',
  'db config set': 'berth db config set work_mem=64MB -s Postgres',
  'db extensions': 'berth db extensions -s Postgres --json',
  redis: 'berth redis config set maxmemory-policy allkeys-lru',
  'redis config': 'berth redis config set maxmemory-policy allkeys-lru -s Redis',
  'redis config set': 'berth redis config set maxmemory-policy allkeys-lru -s Redis',
  'master-key': 'berth master-key rotate',
  'master-key rotate': 'berth master-key rotate',
  bucket: 'berth bucket create uploads',
  'bucket create': 'berth bucket create pages --public',
  'bucket list': 'berth bucket list --json',
  'bucket info': 'berth bucket info uploads',
  'bucket credentials': 'berth bucket credentials uploads --reset',
  'bucket rename': 'berth bucket rename uploads files',
  'bucket delete': 'berth bucket delete uploads --yes',
  'bucket update': 'berth bucket update pages --public',
  'bucket lifecycle': 'berth bucket lifecycle uploads --expire-days 30 --prefix tmp/',
  'bucket cors': 'berth bucket cors set --origin https://app.example.com -s uploads',
  'bucket cors set':
    'berth bucket cors set --origin https://app.example.com --method PUT --max-age 3600 -s uploads',
  'bucket cors show': 'berth bucket cors show -s uploads --json',
  'bucket cors clear': 'berth bucket cors clear -s uploads',
};

/** Railway CLI verbs Berth lacks, with what to do instead (where there is something). */
export const RAILWAY_ONLY: Record<string, string> = {
  deploy: 'it deploys Railway templates; deploy your own code with `berth up`',
  volume: 'volumes come with data services',
  project: 'see projects with `berth list` and link one with `berth link -p <project>`',
  templates: 'deploy your own code with `berth up`',
  dev: 'run locally with the service’s variables with `berth run -- <command>`',
  usage: 'see request metrics with `berth metrics`',
  'tcp-proxy': 'the edge serves HTTP(S) only',
  'private-network': 'services of an environment reach each other at their RAILWAY_PRIVATE_DOMAIN',
  'outbound-network': '',
  cdn: 'the edge already caches answers an app marks Cache-Control: public',
  postgres: 'add a database with `berth add --database postgres`',
  functions: '',
  config: 'Berth reads railway.toml/railway.json (Config as Code)',
  mcp: '',
  skills: '',
  docs: 'the README and docs/ of Berth are its documentation',
  completion: '',
  upgrade: 'update Berth with git pull && npm install',
  autoupdate: '',
  starship: '',
};

export function commandPaths(cmd: Command, prefix = ''): { path: string; cmd: Command }[] {
  return cmd.commands.flatMap((sub) => {
    const path = prefix ? `${prefix} ${sub.name()}` : sub.name();
    return [{ path, cmd: sub }, ...commandPaths(sub, path)];
  });
}

export function addExamples(program: Command): void {
  for (const { path, cmd } of commandPaths(program)) {
    const example = EXAMPLES[path];
    if (example) cmd.addHelpText('after', `\nExample:\n  ${example}`);
  }
}

/** The sentence for `berth <verb>` when verb is one of Railway's that Berth lacks; null otherwise. */
export function railwayOnlyMessage(program: Command, argv: string[]): string | null {
  const verb = argv.find((a) => !a.startsWith('-'));
  if (verb === undefined || !(verb in RAILWAY_ONLY)) return null;
  if (program.commands.some((c) => c.name() === verb || c.aliases().includes(verb))) return null;
  const instead = RAILWAY_ONLY[verb];
  return `\`railway ${verb}\` has no Berth equivalent yet${instead ? `; ${instead}` : ''}`;
}
