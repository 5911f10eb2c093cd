import type { Dispatcher } from 'undici';
import type {
  AccessLogEntry,
  BackupList,
  BackupScheduleBody,
  BackupStatus,
  BackupView,
  CancelledDeployment,
  CreateDataServiceBody,
  CreatedEnvironment,
  CreatedProject,
  CreatedToken,
  CronRun,
  DataConfigBody,
  DataConfigResult,
  DataExtensions,
  DataServiceView,
  DataSleepView,
  DeletedEnvironment,
  DeletedProject,
  DeletedService,
  DeletedToken,
  DeploymentDetail,
  DeploymentSummary,
  EdgePolicyPatch,
  EdgePolicyView,
  EnvironmentMetrics,
  EnvironmentStatus,
  EnvironmentSummary,
  Health,
  HttpLogsQuery,
  LogEvent,
  PatchedSharedVariables,
  PatchedVariables,
  PitrSettingsBody,
  PitrWindow,
  ProjectDetail,
  ProjectSummary,
  RestoreBackupBody,
  RestoredBackup,
  RotatedKey,
  ScaleResult,
  ServiceDomains,
  ServiceMetrics,
  ServiceSettingsPatch,
  ServiceSettingsView,
  ServiceSourcePatch,
  ServiceSummary,
  StartedDeployment,
  TokenSummary,
  UpResult,
  VariableDetail,
  VariableMap,
  VariablesPatch,
  WebhookSettings,
  WebhookSettingsPatch,
  Whoami,
} from '../api/contract/index.js';
import { CliError, isUnreachable } from './errors.js';

/**
 * Typed client for the HTTP API in docs/api.md. Every failure becomes a one-sentence CliError. The answer
 * shapes are the API's contract (src/api/contract, type-only imports: nothing of the server loads in the CLI).
 */
export type * from '../api/contract/index.js';

/** One NDJSON line of a log stream: the raw text (for --json) and what it parsed to (null if unknown). */
export interface RawLogEvent {
  raw: string;
  event: LogEvent | null;
}

export interface LogQuery {
  build?: boolean;
  deploy?: boolean;
  lines?: number;
  follow?: boolean;
  untilTerminal?: boolean;
}

type Query = Record<string, string | number | boolean | undefined>;

interface RequestOptions {
  query?: Query;
  json?: unknown;
  body?: Buffer;
  contentType?: string;
  /** 0 disables the idle-body timeout (for followed log streams). */
  bodyTimeout?: number;
  headersTimeout?: number;
  signal?: AbortSignal;
}

const seg = encodeURIComponent;

/** An environment's routes in the API (bucket-client.ts builds on these too). */
export function environmentPath(project: string, environment: string): string {
  return `/v1/projects/${seg(project)}/environments/${seg(environment)}`;
}

/** A backup or restore answers when it is done: as long as the server's own limit for one (2 h). */
const BACKUP_TIMEOUT_MS = 2 * 60 * 60 * 1000;

export function servicePath(project: string, environment: string, service: string): string {
  return `${environmentPath(project, environment)}/services/${seg(service)}`;
}

export function unreachableMessage(url: string): string {
  return `Cannot reach the Berth server at ${url}; start it with \`berth server\` or set BERTH_URL`;
}

export function rejectedTokenMessage(url: string, dataDir: string): string {
  return `The token was rejected by ${url}; check it (the admin token is in ${dataDir}/admin-token)`;
}

/**
 * undici weighs ~8 MB of a process once loaded, and `berth server` loads this module with the rest of the CLI
 * without ever sending a request through it: loaded on the first request instead.
 */
let undici: Promise<typeof import('undici')> | undefined;
const loadUndici = () => {
  undici ??= import('undici');
  return undici;
};

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly token: string | undefined,
    /** Where a local server keeps its admin token, for the "token rejected" hint. */
    private readonly dataDir: string,
  ) {}

  private async send(method: Dispatcher.HttpMethod, path: string, opts: RequestOptions = {}) {
    const target = new URL(this.url + path);
    for (const [k, v] of Object.entries(opts.query ?? {})) {
      if (v !== undefined && v !== false) target.searchParams.set(k, v === true ? '1' : String(v));
    }
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: string | Buffer | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] = 'application/json';
    } else if (opts.body) {
      body = opts.body;
      headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    }
    let res: Dispatcher.ResponseData;
    try {
      const { request } = await loadUndici();
      res = await request(target, {
        method,
        headers,
        body,
        bodyTimeout: opts.bodyTimeout,
        headersTimeout: opts.headersTimeout,
        signal: opts.signal,
      });
    } catch (err) {
      if (isUnreachable(err)) throw new CliError(unreachableMessage(this.url), { cause: err });
      throw new CliError(`The request to ${this.url} failed: ${(err as Error).message}`, { cause: err });
    }
    if (res.statusCode >= 400) {
      const text = await res.body.text().catch(() => '');
      throw new CliError(this.errorFor(res.statusCode, method, path, text), {
        cause: { status: res.statusCode },
      });
    }
    return res;
  }

  private errorFor(status: number, method: string, path: string, text: string): string {
    if (status === 401) {
      return this.token
        ? rejectedTokenMessage(this.url, this.dataDir)
        : `No API token found for ${this.url}; run \`berth login --token <token>\` or set BERTH_TOKEN (a local server's token is in ${this.dataDir}/admin-token)`;
    }
    let message: string | undefined;
    try {
      const parsed = JSON.parse(text) as { error?: { message?: unknown } };
      if (typeof parsed?.error?.message === 'string') message = parsed.error.message;
    } catch {
      /* not JSON */
    }
    if (message) return message;
    if (status === 413) return 'The upload is too large for the server; exclude big files with .berthignore';
    return `The Berth server at ${this.url} answered HTTP ${status} to ${method} ${path.split('?')[0]}`;
  }

  protected async json<T>(
    method: Dispatcher.HttpMethod,
    path: string,
    opts: RequestOptions = {},
  ): Promise<T> {
    const res = await this.send(method, path, opts);
    const text = await res.body.text();
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CliError(
        `The Berth server at ${this.url} sent a response that is not JSON to ${method} ${path}`,
      );
    }
  }

  health(opts: { timeoutMs?: number } = {}): Promise<Health> {
    const signal = opts.timeoutMs ? AbortSignal.timeout(opts.timeoutMs) : undefined;
    return this.json('GET', '/v1/health', { signal });
  }

  listProjects(): Promise<ProjectSummary[]> {
    return this.json('GET', '/v1/projects');
  }

  createProject(name: string): Promise<CreatedProject> {
    return this.json('POST', '/v1/projects', { json: { name } });
  }

  getProject(project: string): Promise<ProjectDetail> {
    return this.json('GET', `/v1/projects/${seg(project)}`);
  }

  createService(project: string, name: string, source: ServiceSourcePatch = {}): Promise<ServiceSummary> {
    return this.json('POST', `/v1/projects/${seg(project)}/services`, { json: { name, ...source } });
  }

  updateService(project: string, service: string, patch: ServiceSourcePatch): Promise<ServiceSummary> {
    return this.json('PATCH', `/v1/projects/${seg(project)}/services/${seg(service)}`, { json: patch });
  }

  status(project: string, environment: string): Promise<EnvironmentStatus> {
    return this.json('GET', `/v1/projects/${seg(project)}/environments/${seg(environment)}/status`);
  }

  up(
    t: { project: string; environment: string; service: string },
    tarball: Buffer,
    opts: { message?: string; create?: boolean } = {},
  ): Promise<UpResult> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/up`, {
      body: tarball,
      contentType: 'application/gzip',
      query: { create: opts.create, message: opts.message },
    });
  }

  deployments(
    t: { project: string; environment: string; service: string },
    limit?: number,
  ): Promise<DeploymentSummary[]> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/deployments`, {
      query: { limit },
    });
  }

  deployment(id: string): Promise<DeploymentDetail> {
    return this.json('GET', `/v1/deployments/${seg(id)}`);
  }

  cancel(id: string): Promise<CancelledDeployment> {
    return this.json('POST', `/v1/deployments/${seg(id)}/cancel`);
  }

  rollback(
    t: { project: string; environment: string; service: string },
    deploymentId?: string,
  ): Promise<StartedDeployment> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/rollback`, {
      json: deploymentId ? { deploymentId } : {},
    });
  }

  redeploy(t: { project: string; environment: string; service: string }): Promise<StartedDeployment> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/redeploy`);
  }

  restart(t: { project: string; environment: string; service: string }): Promise<StartedDeployment> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/restart`);
  }

  /** `berth add --database`: answers once the new data service accepts connections. */
  addDataService(
    project: string,
    environment: string,
    body: CreateDataServiceBody,
  ): Promise<DataServiceView> {
    return this.json('POST', `/v1/projects/${seg(project)}/environments/${seg(environment)}/data-services`, {
      json: body,
      headersTimeout: 300_000,
    });
  }

  dataService(t: { project: string; environment: string; service: string }): Promise<DataServiceView> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/data`);
  }

  restartDataService(t: { project: string; environment: string; service: string }): Promise<DataServiceView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/restart`, {
      headersTimeout: 300_000,
    });
  }

  /** A data service's engine output, oldest first; with follow, new lines as they come (until interrupted). */
  async *dataLogs(
    t: { project: string; environment: string; service: string },
    q: { lines?: number; follow?: boolean } = {},
  ): AsyncGenerator<RawLogEvent> {
    const res = await this.send('GET', `${servicePath(t.project, t.environment, t.service)}/data/logs`, {
      query: { lines: q.lines, follow: q.follow },
      bodyTimeout: q.follow ? 0 : undefined,
    });
    yield* ndjsonEvents(res.body);
  }

  setDataConfig(
    t: { project: string; environment: string; service: string },
    body: DataConfigBody,
  ): Promise<DataConfigResult> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/config`, {
      json: body,
      headersTimeout: 300_000,
    });
  }

  dataExtensions(t: { project: string; environment: string; service: string }): Promise<DataExtensions> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/data/extensions`);
  }

  setDataPublic(
    t: { project: string; environment: string; service: string },
    on: boolean,
  ): Promise<DataServiceView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/public`, {
      json: { on },
    });
  }

  setDataPooler(
    t: { project: string; environment: string; service: string },
    on: boolean,
  ): Promise<DataServiceView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/pooler`, {
      json: { on },
    });
  }

  setDataSleep(
    t: { project: string; environment: string; service: string },
    afterSeconds: number | null,
  ): Promise<DataSleepView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/sleep`, {
      json: { afterSeconds },
    });
  }

  branchDatabase(
    t: { project: string; environment: string; service: string },
    body: { name: string; at?: string },
  ): Promise<DataServiceView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/branches`, {
      json: body,
      // --at is a point-in-time restore: as long as one may take.
      ...(body.at !== undefined ? { headersTimeout: BACKUP_TIMEOUT_MS } : {}),
    });
  }

  /** `berth db restore --list-window`: the instants the database can be restored to. */
  pitrWindow(t: { project: string; environment: string; service: string }): Promise<PitrWindow> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/data/pitr`);
  }

  setPitrSettings(
    t: { project: string; environment: string; service: string },
    body: PitrSettingsBody,
  ): Promise<PitrWindow> {
    return this.json('PUT', `${servicePath(t.project, t.environment, t.service)}/data/pitr`, { json: body });
  }

  /** `berth db restore --time T --name NEW`: a new service recovered to T; answers once it is promoted. */
  restoreToTime(
    t: { project: string; environment: string; service: string },
    body: { time: string; name: string },
  ): Promise<DataServiceView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/data/pitr/restores`, {
      json: body,
      headersTimeout: BACKUP_TIMEOUT_MS,
    });
  }

  /** Headers that authenticate a request of the CLI's own (the database tunnel's Upgrade). */
  authHeaders(): Record<string, string> {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  /** The service's variables without the sealed ones (what `run` and `shell` inject). */
  variables(t: { project: string; environment: string; service: string }): Promise<VariableMap> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/variables`);
  }

  cronRuns(t: { project: string; environment: string; service: string }, limit?: number): Promise<CronRun[]> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/cron/runs`, {
      query: { limit },
    });
  }

  scale(
    t: { project: string; environment: string; service: string },
    replicas: number,
  ): Promise<ScaleResult> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/scale`, {
      json: { replicas },
    });
  }

  cronTrigger(t: { project: string; environment: string; service: string }): Promise<CronRun> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/cron/trigger`);
  }

  metrics(t: { project: string; environment: string; service: string }): Promise<ServiceMetrics> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/metrics`);
  }

  environmentMetrics(project: string, environment: string): Promise<EnvironmentMetrics> {
    return this.json('GET', `${environmentPath(project, environment)}/metrics`);
  }

  httpLogs(
    t: { project: string; environment: string; service: string },
    q: HttpLogsQuery,
  ): Promise<AccessLogEntry[]> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/http-logs`, {
      query: { ...q },
    });
  }

  domains(t: { project: string; environment: string; service: string }): Promise<ServiceDomains> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/domains`);
  }

  addDomain(
    t: { project: string; environment: string; service: string },
    hostname: string,
    httpsRedirect = true,
  ): Promise<ServiceDomains> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/domains`, {
      json: { hostname, httpsRedirect },
    });
  }

  uploadCertificate(
    t: { project: string; environment: string; service: string },
    hostname: string,
    pem: { cert: string; key: string },
  ): Promise<ServiceDomains> {
    return this.json(
      'PUT',
      `${servicePath(t.project, t.environment, t.service)}/domains/${encodeURIComponent(hostname)}/certificate`,
      { json: pem },
    );
  }

  deleteDomain(
    t: { project: string; environment: string; service: string },
    hostname: string,
  ): Promise<ServiceDomains> {
    return this.json(
      'DELETE',
      `${servicePath(t.project, t.environment, t.service)}/domains/${encodeURIComponent(hostname)}`,
    );
  }

  setServiceSettings(
    t: { project: string; environment: string; service: string },
    patch: ServiceSettingsPatch,
  ): Promise<ServiceSettingsView> {
    return this.json('PATCH', `${servicePath(t.project, t.environment, t.service)}/settings`, {
      json: patch,
    });
  }

  edgePolicy(t: { project: string; environment: string; service: string }): Promise<EdgePolicyView> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/edge-policy`);
  }

  setEdgePolicy(
    t: { project: string; environment: string; service: string },
    patch: EdgePolicyPatch,
  ): Promise<EdgePolicyView> {
    return this.json('PATCH', `${servicePath(t.project, t.environment, t.service)}/edge-policy`, {
      json: patch,
    });
  }

  /** What `run` and `shell` inject: resolved values and provided variables, nothing sealed. */
  runVariables(t: { project: string; environment: string; service: string }): Promise<VariableMap> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/variables/resolved`);
  }

  /** Every variable of the service by name, sealed ones with a null value. */
  variableDetails(t: { project: string; environment: string; service: string }): Promise<VariableDetail[]> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/variables`, {
      query: { detail: true },
    });
  }

  patchVariables(
    t: { project: string; environment: string; service: string },
    patch: VariablesPatch,
  ): Promise<PatchedVariables> {
    return this.json('PATCH', `${servicePath(t.project, t.environment, t.service)}/variables`, {
      json: patch,
    });
  }

  /** The environment's shared variables without the sealed ones. */
  sharedVariables(project: string, environment: string): Promise<VariableMap> {
    return this.json('GET', `${environmentPath(project, environment)}/variables`);
  }

  sharedVariableDetails(project: string, environment: string): Promise<VariableDetail[]> {
    return this.json('GET', `${environmentPath(project, environment)}/variables`, {
      query: { detail: true },
    });
  }

  patchSharedVariables(
    project: string,
    environment: string,
    patch: VariablesPatch,
  ): Promise<PatchedSharedVariables> {
    return this.json('PATCH', `${environmentPath(project, environment)}/variables`, { json: patch });
  }

  listEnvironments(project: string): Promise<EnvironmentSummary[]> {
    return this.json('GET', `/v1/projects/${seg(project)}/environments`);
  }

  createEnvironment(
    project: string,
    body: { name: string; duplicate?: string },
  ): Promise<CreatedEnvironment> {
    return this.json('POST', `/v1/projects/${seg(project)}/environments`, { json: body });
  }

  webhookSettings(project: string, patch?: WebhookSettingsPatch): Promise<WebhookSettings> {
    const p = `/v1/projects/${seg(project)}/webhook`;
    return patch ? this.json('PATCH', p, { json: patch }) : this.json('GET', p);
  }

  deleteEnvironment(
    project: string,
    environment: string,
    skipFinalBackup = false,
  ): Promise<DeletedEnvironment> {
    return this.json('DELETE', environmentPath(project, environment), {
      query: { skipFinalBackup },
      headersTimeout: BACKUP_TIMEOUT_MS,
    });
  }

  whoami(): Promise<Whoami> {
    return this.json('GET', '/v1/whoami');
  }

  createToken(project: string, body: { environment: string; name?: string }): Promise<CreatedToken> {
    return this.json('POST', `/v1/projects/${seg(project)}/tokens`, { json: body });
  }

  listTokens(project: string): Promise<TokenSummary[]> {
    return this.json('GET', `/v1/projects/${seg(project)}/tokens`);
  }

  deleteToken(project: string, token: string): Promise<DeletedToken> {
    return this.json('DELETE', `/v1/projects/${seg(project)}/tokens/${seg(token)}`);
  }

  /** Railway's `down`: the active deployment goes (REMOVED); the service and its variables stay. */
  down(t: { project: string; environment: string; service: string }): Promise<StartedDeployment> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/down`);
  }

  deleteService(
    project: string,
    service: string,
    deleteData = false,
    skipFinalBackup = false,
  ): Promise<DeletedService> {
    return this.json('DELETE', `/v1/projects/${seg(project)}/services/${seg(service)}`, {
      query: { deleteData, skipFinalBackup },
      headersTimeout: BACKUP_TIMEOUT_MS,
    });
  }

  deleteProject(project: string, deleteData = false, skipFinalBackup = false): Promise<DeletedProject> {
    return this.json('DELETE', `/v1/projects/${seg(project)}`, {
      query: { deleteData, skipFinalBackup },
      headersTimeout: BACKUP_TIMEOUT_MS,
    });
  }

  backups(t: { project: string; environment: string; service: string }): Promise<BackupList> {
    return this.json('GET', `${servicePath(t.project, t.environment, t.service)}/backups`);
  }

  allBackups(): Promise<BackupList> {
    return this.json('GET', '/v1/backups');
  }

  environmentBackups(project: string, environment: string): Promise<BackupList> {
    return this.json('GET', `/v1/projects/${seg(project)}/environments/${seg(environment)}/backups`);
  }

  createBackup(t: { project: string; environment: string; service: string }): Promise<BackupView> {
    return this.json('POST', `${servicePath(t.project, t.environment, t.service)}/backups`, {
      headersTimeout: BACKUP_TIMEOUT_MS,
    });
  }

  setBackupSchedule(
    t: { project: string; environment: string; service: string },
    body: BackupScheduleBody,
  ): Promise<BackupStatus> {
    return this.json('PUT', `${servicePath(t.project, t.environment, t.service)}/backups/schedule`, {
      json: body,
    });
  }

  restoreBackup(
    project: string,
    environment: string,
    backupId: string,
    body: RestoreBackupBody,
  ): Promise<RestoredBackup> {
    return this.json(
      'POST',
      `/v1/projects/${seg(project)}/environments/${seg(environment)}/backups/${seg(backupId)}/restore`,
      { json: body, headersTimeout: BACKUP_TIMEOUT_MS },
    );
  }

  /** `berth ssh`: runs argv (or a shell) in a replica of the service with these streams; resolves its exit code. */
  async exec(
    t: { project: string; environment: string; service: string },
    q: { argv: string[] | null; replica?: number; tty: boolean; size?: { cols: number; rows: number } },
    io: import('./exec-client.js').ExecStreams,
  ): Promise<number> {
    const target = new URL(`${this.url}${servicePath(t.project, t.environment, t.service)}/exec`);
    if (q.argv) target.searchParams.set('argv', JSON.stringify(q.argv));
    if (q.replica !== undefined) target.searchParams.set('replica', String(q.replica));
    if (q.tty) target.searchParams.set('tty', '1');
    if (q.size) {
      target.searchParams.set('cols', String(q.size.cols));
      target.searchParams.set('rows', String(q.size.rows));
    }
    const { runExec } = await import('./exec-client.js');
    try {
      return await runExec(target, this.token, io);
    } catch (err) {
      const status = (err as { cause?: { status?: number } }).cause?.status;
      if (status === 401) throw new CliError(this.errorFor(401, 'GET', '', ''));
      throw err;
    }
  }

  rotateMasterKey(): Promise<RotatedKey> {
    return this.json('POST', '/v1/admin/rotate-master-key');
  }

  /**
   * The NDJSON log stream of a deployment, one event per line as it arrives. A followed stream has no
   * idle timeout; a dropped connection surfaces as a thrown error from the iterator.
   */
  async *logs(id: string, q: LogQuery = {}, signal?: AbortSignal): AsyncGenerator<RawLogEvent> {
    const res = await this.send('GET', `/v1/deployments/${seg(id)}/logs`, {
      query: {
        build: q.build,
        deploy: q.deploy,
        lines: q.lines,
        follow: q.follow,
        until: q.untilTerminal ? 'terminal' : undefined,
      },
      bodyTimeout: q.follow ? 0 : undefined,
      signal,
    });
    yield* ndjsonEvents(res.body);
  }
}

/** One event per NDJSON line as it arrives (blank keep-alive lines skipped). */
async function* ndjsonEvents(body: Dispatcher.ResponseData['body']): AsyncGenerator<RawLogEvent> {
  body.setEncoding('utf8');
  let buffered = '';
  for await (const chunk of body as AsyncIterable<string>) {
    buffered += chunk;
    let nl = buffered.indexOf('\n');
    while (nl !== -1) {
      const line = buffered.slice(0, nl).replace(/\r$/, '');
      buffered = buffered.slice(nl + 1);
      if (line.trim()) yield parseLogLine(line);
      nl = buffered.indexOf('\n');
    }
  }
  if (buffered.trim()) yield parseLogLine(buffered);
}

function parseLogLine(raw: string): RawLogEvent {
  try {
    const parsed = JSON.parse(raw) as { type?: unknown };
    if (parsed && (parsed.type === 'log' || parsed.type === 'status'))
      return { raw, event: parsed as LogEvent };
  } catch {
    /* not JSON: shown as-is */
  }
  return { raw, event: null };
}
