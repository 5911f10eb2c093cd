/**
 * `berth bucket create|list|info|credentials|rename|delete|update|lifecycle|cors` (Railway's bucket verbs,
 * plus public buckets, lifecycle and CORS rules) and `berth add --bucket NAME`.
 */
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { type BucketCors, type BucketView, CORS_METHODS, type CorsMethod } from '../../api/contract/index.js';
import { BucketClient } from '../bucket-client.js';
import { confirm } from '../confirm.js';
import {
  type ContextFlags,
  dataDir,
  readConfig,
  requireProject,
  resolvePartialTarget,
  resolveToken,
  resolveUrl,
} from '../context.js';
import { CliError } from '../errors.js';
import { print, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, positiveInt } from './shared.js';

function clientAndPlace(opts: ContextFlags): { client: BucketClient; project: string; environment: string } {
  const config = readConfig();
  const t = resolvePartialTarget({ ...contextFlags(opts), service: undefined }, config);
  const { url } = resolveUrl(config);
  return {
    client: new BucketClient(url, resolveToken(config), dataDir()),
    project: requireProject(t),
    environment: t.environment,
  };
}

function scoped(opts: ContextFlags, name: string) {
  const { client, project, environment } = clientAndPlace(opts);
  return { client, t: { project, environment, service: name } };
}

/** -p/-e only: a bucket is named by the argument. */
function withPlace(cmd: Command): Command {
  return cmd
    .option('-p, --project <project>', 'project name or id (default: the linked project)')
    .option(
      '-e, --environment <environment>',
      'environment name or id (default: the linked one, else production)',
    );
}

function printBucket(b: BucketView): void {
  print(`Bucket:      ${b.service} (${b.environment})`);
  print(`S3 name:     ${b.s3Name}`);
  print(`Endpoint:    ${b.endpoint} (region ${b.region}; also https://${b.s3Name}.<endpoint host>)`);
  print(`Access:      ${b.public ? `public-read at ${b.publicUrl}` : 'private (signed requests only)'}`);
  if (b.customDomains.length > 0)
    print(`Domains:     ${b.customDomains.join(', ')}${b.public ? '' : ' (served once public)'}`);
  print(`Key id:      ${b.accessKeyId} (secret: berth bucket credentials ${b.service})`);
}

/** `berth bucket create` and `berth add --bucket`: one code path. */
export async function createBucket(
  name: string,
  isPublic: boolean,
  opts: ContextFlags & JsonFlag,
): Promise<void> {
  const { client, project, environment } = clientAndPlace(opts);
  const b = await client.createBucket(project, environment, { name, public: isPublic });
  if (opts.json) return printJson(b);
  print(
    `Created bucket ${b.service} (S3 name ${b.s3Name}) in project ${project}, environment ${b.environment}`,
  );
  if (b.publicUrl) print(`Public at ${b.publicUrl}`);
  print(
    `Reference it from an app: berth variables set 'AWS_S3_BUCKET_NAME=\${{${b.service}.AWS_S3_BUCKET_NAME}}' -s <app>`,
  );
  print(`(also AWS_ENDPOINT_URL, AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)`);
}

export function registerBucket(program: Command): void {
  const group = program
    .command('bucket')
    .description('object storage buckets (S3-compatible), one per environment');

  withPlace(
    group
      .command('create')
      .description('create a bucket in the environment, with keys scoped to it')
      .argument('[name]', 'display name (its S3 name adds a short hash)', 'bucket')
      .option('--public', 'serve its objects unsigned through the edge (public-read; never listing)')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag & { public?: boolean }) => {
    await createBucket(name, opts.public ?? false, opts);
  });

  withPlace(
    group
      .command('list')
      .description("the environment's buckets")
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (opts: ContextFlags & JsonFlag) => {
    const { client, project, environment } = clientAndPlace(opts);
    const list = await client.buckets(project, environment);
    if (opts.json) return printJson(list);
    if (list.length === 0)
      return print(`No buckets in ${environment}; create one with \`berth bucket create NAME\``);
    printTable(
      ['bucket', 's3 name', 'access', 'public url'],
      list.map((b) => [b.service, b.s3Name, b.public ? 'public' : 'private', b.publicUrl]),
    );
  });

  withPlace(
    group
      .command('info')
      .description("a bucket's S3 name, endpoint and access")
      .argument('<name>', 'the bucket')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag) => {
    const { client, t } = scoped(opts, name);
    const b = await client.bucket(t);
    if (opts.json) printJson(b);
    else printBucket(b);
  });

  withPlace(
    group
      .command('credentials')
      .description("a bucket's access key pair; --reset makes new ones (the old ones stop working at once)")
      .argument('<name>', 'the bucket')
      .option('--reset', 'replace the key pair')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag & { reset?: boolean }) => {
    const { client, t } = scoped(opts, name);
    const c = await client.credentials(t, opts.reset ?? false);
    if (opts.json) return printJson(c);
    print(`AWS_ENDPOINT_URL=${c.endpoint}`);
    print(`AWS_DEFAULT_REGION=${c.region}`);
    print(`AWS_S3_BUCKET_NAME=${c.bucket}`);
    print(`AWS_ACCESS_KEY_ID=${c.accessKeyId}`);
    print(`AWS_SECRET_ACCESS_KEY=${c.secretAccessKey}`);
    if (opts.reset) {
      print('# The old keys no longer work.');
      if (c.redeployed?.length) print(`# Redeploying with the new ones: ${c.redeployed.join(', ')}`);
    }
  });

  withPlace(
    group
      .command('rename')
      .description('a new display name (the S3 name stays)')
      .argument('<name>', 'the bucket')
      .argument('<new-name>', 'its new name')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, newName: string, opts: ContextFlags & JsonFlag) => {
    const { client, t } = scoped(opts, name);
    const b = await client.renameBucket(t, newName);
    if (opts.json) printJson(b);
    else print(`Renamed bucket ${name} to ${b.service} (S3 name ${b.s3Name} unchanged)`);
  });

  withPlace(
    group
      .command('delete')
      .description('delete a bucket and every object in it from the environment')
      .argument('<name>', 'the bucket')
      .option('-y, --yes', 'skip the confirmation')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag & { yes?: boolean }) => {
    const { client, t } = scoped(opts, name);
    await confirm(`delete bucket "${name}" (${t.environment}) and every object in it`, opts.yes);
    const d = await client.deleteBucket(t);
    if (opts.json) return printJson(d);
    print(`Deleted bucket ${d.service} (${d.s3Name}) and its objects from ${d.environment}`);
    if (d.serviceDeleted) print(`It was the last one; service ${d.service} is gone too.`);
  });

  withPlace(
    group
      .command('update')
      .description('make a bucket public-read (served unsigned through the edge) or private')
      .argument('<name>', 'the bucket')
      .option('--public', 'public-read')
      .option('--private', 'signed requests only')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag & { public?: boolean; private?: boolean }) => {
    if (opts.public === opts.private) throw new CliError('Pass one of --public or --private');
    const { client, t } = scoped(opts, name);
    const b = await client.updateBucket(t, { public: opts.public === true });
    if (opts.json) return printJson(b);
    print(b.public ? `Bucket ${b.service} is public at ${b.publicUrl}` : `Bucket ${b.service} is private`);
  });

  registerCors(group);

  withPlace(
    group
      .command('lifecycle')
      .description(
        'expire objects after some days (by prefix), and abandoned multipart uploads; without --expire-days, show the rules',
      )
      .argument('<name>', 'the bucket')
      .option('--expire-days <days>', 'delete objects this many days after they were written', positiveInt)
      .option('--prefix <prefix>', 'only keys starting with this (default: every key)')
      .option('--json', 'print the server’s JSON answer'),
  ).action(async (name: string, opts: ContextFlags & JsonFlag & { expireDays?: number; prefix?: string }) => {
    if (opts.prefix !== undefined && opts.expireDays === undefined) {
      throw new CliError('--prefix goes with --expire-days; pass both to set a rule');
    }
    const { client, t } = scoped(opts, name);
    const body =
      opts.expireDays === undefined ? null : { expireDays: opts.expireDays, prefix: opts.prefix ?? '' };
    const l = await client.lifecycle(t, body);
    if (opts.json) return printJson(l);
    if (l.rules.length === 0) return print(`Bucket ${name} has no lifecycle rules`);
    printTable(
      ['rule', 'prefix', 'expire after', 'abort uploads after'],
      l.rules.map((r) => [
        r.id,
        r.prefix || '(every key)',
        r.expireDays === null ? null : `${r.expireDays} days`,
        r.abortIncompleteMultipartDays === null ? null : `${r.abortIncompleteMultipartDays} days`,
      ]),
    );
  });
}

/** What a browser sends as Origin: `scheme://host[:port]`, no path; one `*` at most (or `*` for any). */
function corsOrigin(value: string): string {
  if (value.split('*').length > 2) {
    throw new InvalidArgumentError(`"${value}" has more than one *; use one, as in https://*.example.com.`);
  }
  if (value !== '*' && !/^[a-z][a-z0-9+.-]*:\/\/[^/\s?#]+$/i.test(value)) {
    throw new InvalidArgumentError(
      `"${value}" is not an origin; browsers send scheme://host[:port] with no path, as in https://app.example.com.`,
    );
  }
  return value;
}

function corsMethod(value: string, previous: CorsMethod[] = []): CorsMethod[] {
  const m = CORS_METHODS.find((x) => x === value.toUpperCase());
  if (!m) throw new InvalidArgumentError(`"${value}" is not one of ${CORS_METHODS.join(', ')}.`);
  return [...previous, m];
}

function maxAge(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 2_147_483_647) {
    throw new InvalidArgumentError('Expected a whole number of seconds.');
  }
  return n;
}

type CorsFlags = ContextFlags & JsonFlag & { service?: string };

/** The bucket from the argument or -s (the way other commands name a service). */
function corsScope(name: string | undefined, opts: CorsFlags) {
  const bucket = name ?? opts.service;
  if (!bucket) throw new CliError('Name the bucket: berth bucket cors show -s uploads');
  return scoped(opts, bucket);
}

function printCors(c: BucketCors, name: string): void {
  if (c.rules.length === 0) {
    print(`Bucket ${name} has no CORS rules: browsers on other origins are refused`);
    return;
  }
  printTable(
    ['rule', 'origins', 'methods', 'headers', 'expose', 'max age'],
    c.rules.map((r) => [
      r.id || null,
      r.allowedOrigins.join(' '),
      r.allowedMethods.join(' '),
      r.allowedHeaders.join(' ') || null,
      r.exposeHeaders.join(' ') || null,
      r.maxAgeSeconds === null ? null : `${r.maxAgeSeconds}s`,
    ]),
  );
}

/** `berth bucket cors set|show|clear`: the bucket's S3 CORS rules, for browsers uploading with presigned URLs. */
function registerCors(group: Command): void {
  const cors = group
    .command('cors')
    .description('let browsers on other origins use a bucket (uploads with presigned URLs): S3 CORS rules');
  const bucketOptions = (cmd: Command) =>
    withPlace(cmd)
      .argument('[name]', 'the bucket (or -s)')
      .option('-s, --service <bucket>', 'the bucket')
      .option('--json', 'print the server’s JSON answer');

  bucketOptions(
    cors
      .command('set')
      .description(
        "replace the bucket's CORS rules with one for these origins (any request header; ETag exposed)",
      )
      .requiredOption(
        '--origin <origin>',
        'an origin allowed (repeat); https://*.example.com or * work too',
        (v, prev: string[] = []) => [...prev, corsOrigin(v)],
      )
      .option('--method <method>', 'a method allowed (repeat; default GET, HEAD and PUT)', corsMethod)
      .option('--max-age <seconds>', 'how long a browser may cache the preflight answer', maxAge),
  ).action(
    async (
      name: string | undefined,
      opts: CorsFlags & { origin: string[]; method?: CorsMethod[]; maxAge?: number },
    ) => {
      const { client, t } = corsScope(name, opts);
      const c = await client.cors(t, {
        origins: opts.origin,
        ...(opts.method ? { methods: [...new Set(opts.method)] } : {}),
        ...(opts.maxAge === undefined ? {} : { maxAgeSeconds: opts.maxAge }),
      });
      if (opts.json) return printJson(c);
      printCors(c, t.service);
    },
  );

  bucketOptions(
    cors.command('show').description("the bucket's CORS rules, in the order they are matched"),
  ).action(async (name: string | undefined, opts: CorsFlags) => {
    const { client, t } = corsScope(name, opts);
    const c = await client.cors(t, null);
    if (opts.json) return printJson(c);
    printCors(c, t.service);
  });

  bucketOptions(cors.command('clear').description("remove the bucket's CORS rules")).action(
    async (name: string | undefined, opts: CorsFlags) => {
      const { client, t } = corsScope(name, opts);
      const c = await client.clearCors(t);
      if (opts.json) return printJson(c);
      print(`Removed the CORS rules of bucket ${t.service}: browsers on other origins are refused`);
    },
  );
}
