import fs from 'node:fs';
import type { Command } from 'commander';
import type { ApiClient, VariableDetail, VariablesPatch } from '../client.js';
import { type ContextFlags, requireProject, resolvePartialTarget, resolveTarget } from '../context.js';
import { parseDotenv } from '../dotenv.js';
import { CliError } from '../errors.js';
import { print, printErr, printJson, printTable } from '../output.js';
import { contextFlags, type JsonFlag, makeClient, withContextOptions } from './shared.js';

/**
 * `variables` (list, set, delete, import) for a service, or with --shared for the environment's
 * shared variables. Sealed values never reach the CLI: the table shows them as `<sealed>`, and
 * --json/--kv (like `run` and `shell`) leave them out.
 */

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Splits KEY=VALUE at the first `=`; the value may be empty or contain `=`. */
export function parseAssignment(arg: string): [string, string] {
  const eq = arg.indexOf('=');
  if (eq === -1) throw new CliError(`Expected KEY=VALUE, got ${JSON.stringify(arg)}`);
  const key = arg.slice(0, eq);
  checkName(key);
  return [key, arg.slice(eq + 1)];
}

function checkName(name: string): void {
  if (!NAME.test(name)) {
    throw new CliError(
      `${JSON.stringify(name)} is not a variable name: use letters, digits and _, not starting with a digit (like DATABASE_URL)`,
    );
  }
}

interface ScopeFlags extends ContextFlags {
  shared?: boolean;
}

interface WriteFlags extends ScopeFlags {
  skipDeploys?: boolean;
  sealed?: boolean;
}

/** Either one service's variables or the shared variables of an environment. */
type Scope =
  | { shared: false; project: string; environment: string; service: string }
  | { shared: true; project: string; environment: string };

function resolveScope(opts: ScopeFlags): Scope {
  if (!opts.shared) return { shared: false, ...resolveTarget(contextFlags(opts)) };
  const t = resolvePartialTarget({ ...contextFlags(opts), service: undefined });
  return { shared: true, project: requireProject(t), environment: t.environment };
}

function readValues(client: ApiClient, scope: Scope): Promise<Record<string, string>> {
  return scope.shared ? client.sharedVariables(scope.project, scope.environment) : client.variables(scope);
}

function readDetails(client: ApiClient, scope: Scope): Promise<VariableDetail[]> {
  return scope.shared
    ? client.sharedVariableDetails(scope.project, scope.environment)
    : client.variableDetails(scope);
}

/** Sends one PATCH, prints `done`, then whatever deployments it started. */
async function applyPatch(
  scope: Scope,
  opts: WriteFlags,
  patch: VariablesPatch,
  done: string,
): Promise<void> {
  const body: VariablesPatch = { ...patch, skipDeploys: Boolean(opts.skipDeploys) };
  if (opts.sealed) body.sealed = true;
  const client = makeClient();
  if (scope.shared) {
    const res = await client.patchSharedVariables(scope.project, scope.environment, body);
    print(`${done} (shared variables of ${scope.environment})`);
    const ids = res.deploymentIds ?? [];
    if (ids.length > 0) {
      print(
        `Redeploying ${ids.length} service${ids.length === 1 ? '' : 's'} with the new variables: ${ids.join(', ')}`,
      );
    }
  } else {
    const res = await client.patchVariables(scope, body);
    print(done);
    if (res.deploymentId) print(`Redeploying with the new variables: deployment ${res.deploymentId}`);
  }
}

function sealedSuffix(opts: WriteFlags): string {
  return opts.sealed ? ' (sealed)' : '';
}

async function readStdin(key: string): Promise<string> {
  if (process.stdin.isTTY) printErr(`Type the value of ${key}, then press Ctrl-D`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

function readEnvFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`${file} does not exist`);
    if (code === 'EISDIR') throw new CliError(`${file} is a directory, not a .env file`);
    throw new CliError(`Cannot read ${file}: ${code ?? (err as Error).message}`);
  }
}

interface ListFlags extends ScopeFlags, JsonFlag {
  kv?: boolean;
}

function listCommand(cmd: Command): Command {
  return withContextOptions(
    cmd
      .description("show the service's variables (sealed ones by name only)")
      .option('--json', 'print an object of name → value (without sealed variables)')
      .option('--kv', 'print KEY=VALUE lines (without sealed variables)')
      .option('--shared', "the environment's shared variables instead of the service's"),
  ).action(async (opts: ListFlags) => {
    const scope = resolveScope(opts);
    const client = makeClient();
    if (opts.json || opts.kv) {
      const vars = await readValues(client, scope);
      if (opts.json) printJson(vars);
      else for (const k of Object.keys(vars).sort()) print(`${k}=${vars[k]}`);
      return;
    }
    const details = [...(await readDetails(client, scope))].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
    );
    if (details.length === 0) {
      print(
        scope.shared
          ? `No shared variables in ${scope.environment}; add some with \`berth variables set --shared KEY=VALUE\``
          : 'No variables set; add some with `berth variables set KEY=VALUE`',
      );
      return;
    }
    printTable(
      ['name', 'value'],
      details.map((d) => [d.name, d.sealed ? '<sealed>' : (d.value ?? '')]),
    );
  });
}

function writeOptions(cmd: Command, opts: { sealed: boolean }): Command {
  if (opts.sealed) cmd.option('--sealed', 'seal the values: they can never be read back');
  return withContextOptions(
    cmd
      .option('--skip-deploys', 'save without redeploying')
      .option('--shared', "the environment's shared variables instead of the service's"),
  );
}

export function registerVariables(program: Command): void {
  const group = program
    .command('variables')
    .aliases(['variable', 'vars', 'var'])
    .description(
      "list, set, delete or import the service's (or, with --shared, the environment's) variables",
    );

  listCommand(group.command('list', { isDefault: true }).alias('ls'));

  writeOptions(
    group
      .command('set')
      .description('set one or more variables (redeploys what uses them unless --skip-deploys)')
      .argument('<assignments...>', 'KEY=VALUE pairs (with --stdin: one bare KEY)')
      .option('--stdin', 'read the value of the one KEY from standard input (one trailing newline dropped)'),
    { sealed: true },
  ).action(async (assignments: string[], opts: WriteFlags & { stdin?: boolean }) => {
    const set: Record<string, string> = {};
    if (opts.stdin) {
      if (assignments.length !== 1) {
        throw new CliError('--stdin reads the value of exactly one variable; pass a single KEY');
      }
      const key = assignments[0];
      if (key.includes('=')) {
        throw new CliError(
          `With --stdin pass a bare KEY (its value is read from standard input), got ${JSON.stringify(key)}`,
        );
      }
      checkName(key);
      const scope = resolveScope(opts);
      set[key] = await readStdin(key);
      await applyPatch(scope, opts, { set }, `Set ${key}${sealedSuffix(opts)}`);
      return;
    }
    for (const a of assignments) {
      const [k, v] = parseAssignment(a);
      set[k] = v;
    }
    await applyPatch(
      resolveScope(opts),
      opts,
      { set },
      `Set ${Object.keys(set).join(', ')}${sealedSuffix(opts)}`,
    );
  });

  writeOptions(
    group
      .command('delete')
      .alias('unset')
      .description('delete one or more variables (redeploys what used them unless --skip-deploys)')
      .argument('<names...>', 'variable names'),
    { sealed: false },
  ).action(async (names: string[], opts: WriteFlags) => {
    for (const n of names) checkName(n);
    await applyPatch(resolveScope(opts), opts, { delete: names }, `Deleted ${names.join(', ')}`);
  });

  writeOptions(
    group
      .command('import')
      .description('set every variable of a .env file at once (redeploys unless --skip-deploys)')
      .argument('<file>', 'a .env file: KEY=VALUE lines, `export` and # comments allowed'),
    { sealed: true },
  ).action(async (file: string, opts: WriteFlags) => {
    const set = parseDotenv(readEnvFile(file), file);
    const names = Object.keys(set);
    if (names.length === 0) throw new CliError(`${file} holds no variables`);
    await applyPatch(
      resolveScope(opts),
      opts,
      { set },
      `Imported ${names.length} variable${names.length === 1 ? '' : 's'} from ${file}${sealedSuffix(opts)}: ${names.join(', ')}`,
    );
  });
}
