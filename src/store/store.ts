import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { NotFoundError, UserError } from '../core/errors.js';
import { generatedLabel } from '../core/hostname-label.js';
import type {
  Deployment,
  DeploymentSource,
  DeploymentStatus,
  EdgeConfig,
  Environment,
  GitMeta,
  Instance,
  InstanceState,
  Project,
  Service,
  ServiceConfig,
  ValueOrigin,
  VariableEntry,
} from '../core/model.js';
import { PROJECT_TOKEN } from '../core/project-token.js';
import type { Db } from './db.js';
import { SecretBox } from './secret-box.js';

interface GitRow {
  git_sha: string | null;
  git_branch: string | null;
  git_author: string | null;
  git_message: string | null;
  source_deployment_id: string | null;
}

/** AADs bind each ciphertext to its row, so a value copied into another row does not decrypt. */
const variableAad = (serviceId: string, environmentId: string, name: string) =>
  `variables/${serviceId}/${environmentId}/${name}`;
const sharedAad = (environmentId: string, name: string) => `shared/${environmentId}/${name}`;
const deploymentAad = (deploymentId: string) => `deployments/${deploymentId}/variables`;
/** One service in one environment and the label of its generated host name; `since` orders claims. */
export interface GeneratedName {
  label: string;
  project: string;
  service: string;
  environment: string;
  serviceId: string;
  environmentId: string;
  /** When the name came to be: the later of the service's and the environment's creation. */
  since: string;
}

/** What a signed pull request event from a fork does: nothing (the default) or a preview build. */
export type ForkPrPolicy = 'skip' | 'build';

const projectSecretAad = (projectId: string, name: string) => `project-secrets/${projectId}/${name}`;

const certificateAad = (hostname: string) => `certificates/${hostname}/key`;

/** Columns holding sealed values, for key rotation. */
export const SEALED_COLUMNS = [
  {
    table: 'certificates',
    idColumns: ['hostname'],
    column: 'key_pem',
    aad: (r: Record<string, unknown>) => certificateAad(String(r.hostname)),
  },
  {
    table: 'variables',
    idColumns: ['service_id', 'environment_id', 'name'],
    column: 'value',
    aad: (r: Record<string, unknown>) =>
      variableAad(String(r.service_id), String(r.environment_id), String(r.name)),
  },
  {
    table: 'shared_variables',
    idColumns: ['environment_id', 'name'],
    column: 'value',
    aad: (r: Record<string, unknown>) => sharedAad(String(r.environment_id), String(r.name)),
  },
  {
    table: 'deployments',
    idColumns: ['id'],
    column: 'variables_json',
    aad: (r: Record<string, unknown>) => deploymentAad(String(r.id)),
  },
  {
    table: 'project_secrets',
    idColumns: ['project_id', 'name'],
    column: 'value',
    aad: (r: Record<string, unknown>) => projectSecretAad(String(r.project_id), String(r.name)),
  },
];

const now = () => new Date().toISOString();
type Row = Record<string, unknown>;

function toProject(r: Row): Project {
  return { id: String(r.id), name: String(r.name), createdAt: String(r.created_at) };
}
function toEnvironment(r: Row): Environment {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    name: String(r.name),
    createdAt: String(r.created_at),
    kind: (r.kind as Environment['kind'] | undefined) ?? 'persistent',
    branch: (r.branch as string | null) ?? null,
    baseEnvironmentId: (r.base_environment_id as string | null) ?? null,
  };
}
function toService(r: Row): Service {
  return {
    id: String(r.id),
    projectId: String(r.project_id),
    name: String(r.name),
    createdAt: String(r.created_at),
    rootDirectory: (r.root_directory as string | null) ?? null,
    configPath: (r.config_path as string | null) ?? null,
    repoUrl: (r.repo_url as string | null) ?? null,
    repoBranch: (r.repo_branch as string | null) ?? null,
    waitForChecks: Number(r.wait_for_checks ?? 0) === 1,
  };
}
function toDeployment(r: Row, box: SecretBox): Deployment {
  const id = String(r.id);
  const rawVars = String(r.variables_json);
  return {
    id: String(r.id),
    serviceId: String(r.service_id),
    environmentId: String(r.environment_id),
    status: r.status as DeploymentStatus,
    reason: (r.reason as string | null) ?? null,
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    sourceDeploymentId: (r.source_deployment_id as string | null) ?? null,
    kind: r.kind as Deployment['kind'],
    message: (r.message as string | null) ?? null,
    sourcePath: String(r.source_path),
    artifactPath: (r.artifact_path as string | null) ?? null,
    config: r.config_json ? (JSON.parse(String(r.config_json)) as ServiceConfig) : null,
    configOrigins: r.origins_json
      ? (JSON.parse(String(r.origins_json)) as Record<string, ValueOrigin>)
      : null,
    configWarnings: JSON.parse(String(r.warnings_json)) as string[],
    variables: JSON.parse(
      SecretBox.isSealed(rawVars) ? box.open(rawVars, deploymentAad(id)) : rawVars,
    ) as Record<string, string>,
    sealedNames: JSON.parse(String(r.sealed_names_json)) as string[],
    source: {
      rootDirectory: (r.root_directory as string | null) ?? null,
      configPath: (r.config_path as string | null) ?? null,
      changedFiles: r.changed_files_json ? (JSON.parse(String(r.changed_files_json)) as string[]) : null,
    },
    buildKey: (r.build_key as string | null) ?? null,
  };
}
export type CertificateSource = 'local-ca' | 'acme' | 'file';

export interface StoredCertificate {
  hostname: string;
  source: CertificateSource;
  /** Leaf first, then the chain. */
  certPem: string;
  keyPem: string;
  /** ISO time the leaf expires. */
  notAfter: string;
}

export interface CustomDomain {
  hostname: string;
  serviceId: string;
  environmentId: string;
  /** Plain-HTTP requests get a 308 to HTTPS once the domain has a certificate. */
  httpsRedirect: boolean;
  createdAt: string;
}

function toDomain(r: Row): CustomDomain {
  return {
    hostname: r.hostname as string,
    serviceId: r.service_id as string,
    environmentId: r.environment_id as string,
    httpsRedirect: r.https_redirect === 1,
    createdAt: r.created_at as string,
  };
}

function toInstance(r: Row): Instance & { stdoutOffset: number; stderrOffset: number } {
  return {
    id: String(r.id),
    deploymentId: String(r.deployment_id),
    replica: Number(r.replica),
    pid: r.pid === null ? null : Number(r.pid),
    pidStartTime: (r.pid_start_time as string | null) ?? null,
    port: Number(r.port),
    state: r.state as InstanceState,
    restarts: Number(r.restarts),
    exitCode: r.exit_code === null ? null : Number(r.exit_code),
    createdAt: String(r.created_at),
    updatedAt: String(r.updated_at),
    stdoutOffset: Number(r.stdout_offset),
    stderrOffset: Number(r.stderr_offset),
  };
}

function entriesToRecord(entries: VariableEntry[], includeSealed: boolean): Record<string, string> {
  return Object.fromEntries(entries.filter((e) => includeSealed || !e.sealed).map((e) => [e.name, e.value]));
}

export type StoredInstance = ReturnType<typeof toInstance>;

/** A project token (Railway's RAILWAY_TOKEN): deploys and reads one environment of one project. */
export interface ProjectToken {
  id: string;
  projectId: string;
  environmentId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

function toProjectToken(r: Row): ProjectToken {
  return {
    id: r.id as string,
    projectId: r.project_id as string,
    environmentId: r.environment_id as string,
    name: r.name as string,
    createdAt: r.created_at as string,
    lastUsedAt: (r.last_used_at as string | null) ?? null,
  };
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

/** Checks a project/service/environment name; they end up in hostnames and paths. */
export function assertName(kind: string, name: string): void {
  if (!NAME_RE.test(name)) {
    throw new UserError(
      `${kind} name "${name}" is not valid; use letters, digits, "-" or "_" (up to 63 characters, starting with a letter or digit).`,
    );
  }
}

/**
 * All reads and writes of Berth's state. Every transition is written here before the
 * deploy engine acts on it, so a restarted daemon can tell what was in flight.
 */
export class Store {
  constructor(
    readonly db: Db,
    private box: SecretBox,
  ) {}

  get secretBox(): SecretBox {
    return this.box;
  }

  /** After a key rotation re-encrypted every value, later reads and writes use the new key. */
  replaceSecretBox(box: SecretBox): void {
    this.box = box;
  }

  /** Seals any value still stored in plain text (databases from before encryption at rest). */
  sealPlaintext(): number {
    let n = 0;
    this.db.transaction(() => {
      for (const c of SEALED_COLUMNS) {
        const rows = this.db.prepare(`SELECT * FROM ${c.table}`).all() as Row[];
        const where = c.idColumns.map((k) => `${k} = ?`).join(' AND ');
        const update = this.db.prepare(`UPDATE ${c.table} SET ${c.column} = ? WHERE ${where}`);
        for (const r of rows) {
          const v = String(r[c.column]);
          if (SecretBox.isSealed(v)) continue;
          update.run(this.box.seal(v, c.aad(r)), ...c.idColumns.map((k) => r[k]));
          n++;
        }
      }
    })();
    return n;
  }

  // --- projects / environments / services --------------------------------

  createProject(name: string): { project: Project; environments: Environment[] } {
    assertName('Project', name);
    if (this.findProject(name)) {
      throw new UserError(`A project named "${name}" already exists; pick another name or link to it.`, {
        status: 409,
        code: 'conflict',
      });
    }
    const project: Project = { id: randomUUID(), name, createdAt: now() };
    const env: Environment = {
      id: randomUUID(),
      projectId: project.id,
      name: 'production',
      createdAt: project.createdAt,
      kind: 'persistent',
      branch: null,
      baseEnvironmentId: null,
    };
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)')
        .run(project.id, project.name, project.createdAt);
      this.db
        .prepare('INSERT INTO environments (id, project_id, name, created_at) VALUES (?, ?, ?, ?)')
        .run(env.id, env.projectId, env.name, env.createdAt);
    })();
    return { project, environments: [env] };
  }

  listProjects(): Project[] {
    return this.db
      .prepare('SELECT * FROM projects ORDER BY created_at')
      .all()
      .map((r) => toProject(r as Row));
  }

  findProject(ref: string): Project | null {
    const r = this.db.prepare('SELECT * FROM projects WHERE id = ? OR name = ?').get(ref, ref) as
      | Row
      | undefined;
    return r ? toProject(r) : null;
  }

  getProject(ref: string): Project {
    const p = this.findProject(ref);
    if (!p) throw new NotFoundError(`Project "${ref}" does not exist; create it with \`berth init\`.`);
    return p;
  }

  projectById(id: string): Project {
    return toProject(this.db.prepare('SELECT * FROM projects WHERE id = ?').get(id) as Row);
  }

  listEnvironments(projectId: string): Environment[] {
    return this.db
      .prepare('SELECT * FROM environments WHERE project_id = ? ORDER BY created_at')
      .all(projectId)
      .map((r) => toEnvironment(r as Row));
  }

  getEnvironment(project: Project, ref: string): Environment {
    const r = this.db
      .prepare('SELECT * FROM environments WHERE project_id = ? AND (id = ? OR name = ?)')
      .get(project.id, ref, ref) as Row | undefined;
    if (!r) {
      throw new NotFoundError(`Environment "${ref}" does not exist in project "${project.name}".`);
    }
    return toEnvironment(r);
  }

  createEnvironment(
    project: Project,
    name: string,
    opts: { kind?: Environment['kind']; branch?: string | null; base?: Environment | null } = {},
  ): Environment {
    assertName('Environment', name);
    const exists = this.db
      .prepare('SELECT 1 FROM environments WHERE project_id = ? AND name = ?')
      .get(project.id, name);
    if (exists) {
      throw new UserError(`Environment "${name}" already exists in project "${project.name}".`, {
        status: 409,
        code: 'conflict',
      });
    }
    this.assertLabelsFree(
      this.listServices(project.id).map((sv) => ({
        project: project.name,
        service: sv.name,
        environment: name,
      })),
      `pick another name for the environment`,
    );
    const env: Environment = {
      id: randomUUID(),
      projectId: project.id,
      name,
      createdAt: now(),
      kind: opts.kind ?? 'persistent',
      branch: opts.branch ?? null,
      baseEnvironmentId: opts.base?.id ?? null,
    };
    this.db
      .prepare(
        `INSERT INTO environments (id, project_id, name, created_at, kind, branch, base_environment_id)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(env.id, env.projectId, env.name, env.createdAt, env.kind, env.branch, env.baseEnvironmentId);
    return env;
  }

  findEnvironment(project: Project, ref: string): Environment | null {
    const r = this.db
      .prepare('SELECT * FROM environments WHERE project_id = ? AND (id = ? OR name = ?)')
      .get(project.id, ref, ref) as Row | undefined;
    return r ? toEnvironment(r) : null;
  }

  /** The preview environment a branch deploys to, if one was made for it. */
  previewForBranch(project: Project, branch: string): Environment | null {
    const r = this.db
      .prepare("SELECT * FROM environments WHERE project_id = ? AND kind = 'preview' AND branch = ?")
      .get(project.id, branch) as Row | undefined;
    return r ? toEnvironment(r) : null;
  }

  /**
   * Removes an environment's rows: variables, shared variables, service state, deployments and
   * their instances (foreign keys cascade). Files are the caller's to free.
   */
  deleteEnvironmentRows(environmentId: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          'DELETE FROM instances WHERE deployment_id IN (SELECT id FROM deployments WHERE environment_id = ?)',
        )
        .run(environmentId);
      for (const table of ['deployments', 'variables', 'shared_variables', 'service_state']) {
        this.db.prepare(`DELETE FROM ${table} WHERE environment_id = ?`).run(environmentId);
      }
      this.db.prepare('DELETE FROM environments WHERE id = ?').run(environmentId);
    })();
  }

  /** A new project token; the secret is returned once and only its hash is kept. */
  createProjectToken(
    projectId: string,
    environmentId: string,
    name: string,
  ): { token: ProjectToken; secret: string } {
    const secret = `berth_pt_${projectId}_${environmentId}_${randomBytes(24).toString('hex')}`;
    const id = randomUUID();
    this.db
      .prepare(
        'INSERT INTO project_tokens (id, project_id, environment_id, name, secret_sha256, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(id, projectId, environmentId, name, sha256Hex(secret), now());
    return {
      token: toProjectToken(this.db.prepare('SELECT * FROM project_tokens WHERE id = ?').get(id) as Row),
      secret,
    };
  }

  listProjectTokens(projectId: string): ProjectToken[] {
    return this.db
      .prepare('SELECT * FROM project_tokens WHERE project_id = ? ORDER BY created_at')
      .all(projectId)
      .map((r) => toProjectToken(r as Row));
  }

  /** Revokes a token of the project by id or name; false when there is none. */
  deleteProjectToken(projectId: string, ref: string): boolean {
    return (
      this.db
        .prepare('DELETE FROM project_tokens WHERE project_id = ? AND (id = ? OR name = ?)')
        .run(projectId, ref, ref).changes > 0
    );
  }

  /** The token a secret belongs to (and notes its use), or null. */
  projectTokenBySecret(secret: string): ProjectToken | null {
    if (!PROJECT_TOKEN.test(secret)) return null;
    const r = this.db
      .prepare('SELECT * FROM project_tokens WHERE secret_sha256 = ?')
      .get(sha256Hex(secret)) as Row | undefined;
    if (!r) return null;
    this.db.prepare('UPDATE project_tokens SET last_used_at = ? WHERE id = ?').run(now(), r.id);
    return toProjectToken(r);
  }

  /** Deployments of an environment, any service, oldest first. */
  deploymentsOfEnvironment(environmentId: string): Deployment[] {
    return this.db
      .prepare('SELECT * FROM deployments WHERE environment_id = ? ORDER BY created_at')
      .all(environmentId)
      .map((r) => toDeployment(r as Row, this.box));
  }

  /** Which of these source/artifact paths a deployment outside `exceptIds` still uses. */
  pathsStillUsed(paths: string[], exceptIds: Set<string>): Set<string> {
    const used = new Set<string>();
    const q = this.db.prepare('SELECT id FROM deployments WHERE source_path = ? OR artifact_path = ?');
    for (const p of paths) {
      const ids = q.all(p, p) as { id: string }[];
      if (ids.some((r) => !exceptIds.has(r.id))) used.add(p);
    }
    return used;
  }

  findEnvironmentById(id: string): Environment | null {
    const r = this.db.prepare('SELECT * FROM environments WHERE id = ?').get(id) as Row | undefined;
    return r ? toEnvironment(r) : null;
  }

  environmentById(id: string): Environment {
    return toEnvironment(this.db.prepare('SELECT * FROM environments WHERE id = ?').get(id) as Row);
  }

  createService(project: Project, name: string): Service {
    assertName('Service', name);
    if (this.findService(project, name)) {
      throw new UserError(`Service "${name}" already exists in project "${project.name}".`, {
        status: 409,
        code: 'conflict',
      });
    }
    this.assertLabelsFree(
      this.listEnvironments(project.id).map((e) => ({
        project: project.name,
        service: name,
        environment: e.name,
      })),
      `pick another name for the service`,
    );
    const s: Service = {
      id: randomUUID(),
      projectId: project.id,
      name,
      createdAt: now(),
      rootDirectory: null,
      configPath: null,
      repoUrl: null,
      repoBranch: null,
      waitForChecks: false,
    };
    this.db
      .prepare('INSERT INTO services (id, project_id, name, created_at) VALUES (?, ?, ?, ?)')
      .run(s.id, s.projectId, s.name, s.createdAt);
    return s;
  }

  listServices(projectId: string): Service[] {
    return this.db
      .prepare('SELECT * FROM services WHERE project_id = ? ORDER BY created_at')
      .all(projectId)
      .map((r) => toService(r as Row));
  }

  findService(project: Project, ref: string): Service | null {
    const r = this.db
      .prepare('SELECT * FROM services WHERE project_id = ? AND (id = ? OR name = ?)')
      .get(project.id, ref, ref) as Row | undefined;
    return r ? toService(r) : null;
  }

  getService(project: Project, ref: string): Service {
    const s = this.findService(project, ref);
    if (!s) {
      throw new NotFoundError(
        `Service "${ref}" does not exist in project "${project.name}"; create it with \`berth add --service ${ref}\` or deploy with \`berth up\`.`,
      );
    }
    return s;
  }

  /** Sets a service's source settings; `undefined` leaves one unchanged, null clears it. */
  updateServiceSource(
    serviceId: string,
    patch: {
      rootDirectory?: string | null;
      configPath?: string | null;
      repoUrl?: string | null;
      repoBranch?: string | null;
      waitForChecks?: boolean;
    },
  ): Service {
    const columns: [keyof typeof patch, string][] = [
      ['rootDirectory', 'root_directory'],
      ['configPath', 'config_path'],
      ['repoUrl', 'repo_url'],
      ['repoBranch', 'repo_branch'],
      ['waitForChecks', 'wait_for_checks'],
    ];
    for (const [key, column] of columns) {
      const value = patch[key];
      if (value === undefined) continue;
      const stored = typeof value === 'boolean' ? Number(value) : value;
      this.db.prepare(`UPDATE services SET ${column} = ? WHERE id = ?`).run(stored, serviceId);
    }
    return this.serviceById(serviceId);
  }

  /** A project's sealed secret (the webhook secret), or null. */
  projectSecret(projectId: string, name: string): string | null {
    const r = this.db
      .prepare('SELECT value FROM project_secrets WHERE project_id = ? AND name = ?')
      .get(projectId, name) as { value: string } | undefined;
    return r ? this.box.open(r.value, projectSecretAad(projectId, name)) : null;
  }

  setProjectSecret(projectId: string, name: string, value: string | null): void {
    if (value === null) {
      this.db.prepare('DELETE FROM project_secrets WHERE project_id = ? AND name = ?').run(projectId, name);
      return;
    }
    this.db
      .prepare(
        `INSERT INTO project_secrets (project_id, name, value) VALUES (?, ?, ?)
         ON CONFLICT (project_id, name) DO UPDATE SET value = excluded.value`,
      )
      .run(projectId, name, this.box.seal(value, projectSecretAad(projectId, name)));
  }

  projectStatusUrl(projectId: string): string | null {
    const r = this.db.prepare('SELECT status_url FROM projects WHERE id = ?').get(projectId) as
      | { status_url: string | null }
      | undefined;
    return r?.status_url ?? null;
  }

  setProjectStatusUrl(projectId: string, url: string | null): void {
    this.db.prepare('UPDATE projects SET status_url = ? WHERE id = ?').run(url, projectId);
  }

  /** Every service in every environment of its project, with the label of its generated host name. */
  generatedNames(): GeneratedName[] {
    const rows = this.db
      .prepare(
        `SELECT p.name AS project, s.name AS service, e.name AS environment, s.id AS service_id,
           e.id AS environment_id, MAX(s.created_at, e.created_at) AS since
         FROM services s JOIN projects p ON p.id = s.project_id JOIN environments e ON e.project_id = s.project_id`,
      )
      .all() as Row[];
    return rows.map((r) => {
      const names = {
        project: String(r.project),
        service: String(r.service),
        environment: String(r.environment),
      };
      return {
        ...names,
        label: generatedLabel(names),
        serviceId: String(r.service_id),
        environmentId: String(r.environment_id),
        since: String(r.since),
      };
    });
  }

  /**
   * Refuses (409) names that would give a service a generated host name another service already has:
   * `<service>-<project>[-<env>]` is ambiguous, and the edge can route a host name to one service only.
   */
  private assertLabelsFree(
    wanted: { project: string; service: string; environment: string }[],
    fix: string,
  ): void {
    if (wanted.length === 0) return;
    const taken = new Map(this.generatedNames().map((n) => [n.label, n]));
    for (const w of wanted) {
      const label = generatedLabel(w);
      const owner = taken.get(label);
      if (!owner) continue;
      const where = (n: { project: string; service: string; environment: string }) =>
        `service "${n.service}" of project "${n.project}" (${n.environment})`;
      throw new UserError(
        `The generated host name ${label} of ${where(w)} is already the host name of ${where(owner)}; ${fix}.`,
        { status: 409, code: 'hostname_taken' },
      );
    }
  }

  /** Whether pull requests from forks are built ('build') or answered with a skip ('skip', the default). */
  projectForkPrs(projectId: string): ForkPrPolicy {
    const r = this.db.prepare('SELECT fork_prs FROM projects WHERE id = ?').get(projectId) as
      | { fork_prs: string }
      | undefined;
    return r?.fork_prs === 'build' ? 'build' : 'skip';
  }

  setProjectForkPrs(projectId: string, policy: ForkPrPolicy): void {
    this.db.prepare('UPDATE projects SET fork_prs = ? WHERE id = ?').run(policy, projectId);
  }

  /** Marks a preview made for a fork's pull request (created without copied variables). */
  markForkPreview(environmentId: string): void {
    this.db.prepare('UPDATE environments SET from_fork = 1 WHERE id = ?').run(environmentId);
  }

  isForkPreview(environmentId: string): boolean {
    const r = this.db.prepare('SELECT from_fork FROM environments WHERE id = ?').get(environmentId) as
      | { from_fork: number }
      | undefined;
    return r?.from_fork === 1;
  }

  /** WAITING git deployments of a project for one commit. */
  waitingForCommit(projectId: string, sha: string): Deployment[] {
    return this.db
      .prepare(
        `SELECT d.* FROM deployments d JOIN services s ON s.id = d.service_id
         WHERE s.project_id = ? AND d.status = 'WAITING' AND d.git_sha = ? ORDER BY d.created_at`,
      )
      .all(projectId, sha)
      .map((r) => toDeployment(r as Row, this.box));
  }

  serviceById(id: string): Service {
    return toService(this.db.prepare('SELECT * FROM services WHERE id = ?').get(id) as Row);
  }

  // --- service state (what each service serves in each environment) -------

  activeDeploymentId(serviceId: string, environmentId: string): string | null {
    const r = this.db
      .prepare('SELECT active_deployment_id FROM service_state WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as { active_deployment_id: string | null } | undefined;
    return r?.active_deployment_id ?? null;
  }

  setActiveDeployment(serviceId: string, environmentId: string, deploymentId: string | null): void {
    this.db
      .prepare(
        `INSERT INTO service_state (service_id, environment_id, active_deployment_id) VALUES (?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET active_deployment_id = excluded.active_deployment_id`,
      )
      .run(serviceId, environmentId, deploymentId);
  }

  /** Every (service, environment) pair that currently has an active deployment. */
  activeDeployments(): Deployment[] {
    return this.db
      .prepare(
        `SELECT d.* FROM service_state s JOIN deployments d ON d.id = s.active_deployment_id
         WHERE s.active_deployment_id IS NOT NULL`,
      )
      .all()
      .map((r) => toDeployment(r as Row, this.box));
  }

  // --- variables (values encrypted at rest) --------------------------------

  variableEntries(serviceId: string, environmentId: string): VariableEntry[] {
    const rows = this.db
      .prepare(
        'SELECT name, value, sealed FROM variables WHERE service_id = ? AND environment_id = ? ORDER BY name',
      )
      .all(serviceId, environmentId) as { name: string; value: string; sealed: number }[];
    return rows.map((r) => ({
      name: r.name,
      value: this.box.open(r.value, variableAad(serviceId, environmentId, r.name)),
      sealed: r.sealed === 1,
    }));
  }

  /** Name → value; sealed ones only when asked (deployments need them, read paths never do). */
  variables(
    serviceId: string,
    environmentId: string,
    opts: { includeSealed?: boolean } = {},
  ): Record<string, string> {
    return entriesToRecord(this.variableEntries(serviceId, environmentId), opts.includeSealed ?? false);
  }

  /** A sealed variable stays sealed when set again without `sealed` (Railway: it cannot be unsealed). */
  updateVariables(
    serviceId: string,
    environmentId: string,
    set: Record<string, string>,
    del: string[],
    opts: { sealed?: boolean } = {},
  ): void {
    const ts = now();
    this.db.transaction(() => {
      const upsert = this.db.prepare(
        `INSERT INTO variables (service_id, environment_id, name, value, sealed, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id, name) DO UPDATE SET value = excluded.value,
           sealed = MAX(sealed, excluded.sealed), updated_at = excluded.updated_at`,
      );
      for (const [k, v] of Object.entries(set)) {
        upsert.run(
          serviceId,
          environmentId,
          k,
          this.box.seal(v, variableAad(serviceId, environmentId, k)),
          opts.sealed ? 1 : 0,
          ts,
        );
      }
      const remove = this.db.prepare(
        'DELETE FROM variables WHERE service_id = ? AND environment_id = ? AND name = ?',
      );
      for (const k of del) remove.run(serviceId, environmentId, k);
    })();
  }

  sharedEntries(environmentId: string): VariableEntry[] {
    const rows = this.db
      .prepare('SELECT name, value, sealed FROM shared_variables WHERE environment_id = ? ORDER BY name')
      .all(environmentId) as { name: string; value: string; sealed: number }[];
    return rows.map((r) => ({
      name: r.name,
      value: this.box.open(r.value, sharedAad(environmentId, r.name)),
      sealed: r.sealed === 1,
    }));
  }

  sharedVariables(environmentId: string, opts: { includeSealed?: boolean } = {}): Record<string, string> {
    return entriesToRecord(this.sharedEntries(environmentId), opts.includeSealed ?? false);
  }

  updateSharedVariables(
    environmentId: string,
    set: Record<string, string>,
    del: string[],
    opts: { sealed?: boolean } = {},
  ): void {
    const ts = now();
    this.db.transaction(() => {
      const upsert = this.db.prepare(
        `INSERT INTO shared_variables (environment_id, name, value, sealed, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (environment_id, name) DO UPDATE SET value = excluded.value,
           sealed = MAX(sealed, excluded.sealed), updated_at = excluded.updated_at`,
      );
      for (const [k, v] of Object.entries(set)) {
        upsert.run(environmentId, k, this.box.seal(v, sharedAad(environmentId, k)), opts.sealed ? 1 : 0, ts);
      }
      const remove = this.db.prepare('DELETE FROM shared_variables WHERE environment_id = ? AND name = ?');
      for (const k of del) remove.run(environmentId, k);
    })();
  }

  /** Copies service and shared variables to another environment, leaving sealed ones behind. */
  copyVariables(fromEnvironmentId: string, toEnvironmentId: string): void {
    this.db.transaction(() => {
      this.updateSharedVariables(toEnvironmentId, this.sharedVariables(fromEnvironmentId), []);
      const services = this.db
        .prepare('SELECT DISTINCT service_id FROM variables WHERE environment_id = ?')
        .all(fromEnvironmentId) as { service_id: string }[];
      for (const { service_id } of services) {
        this.updateVariables(service_id, toEnvironmentId, this.variables(service_id, fromEnvironmentId), []);
      }
    })();
  }

  // --- deployments --------------------------------------------------------

  createDeployment(d: {
    serviceId: string;
    environmentId: string;
    kind: Deployment['kind'];
    message: string | null;
    sourcePath: string;
    sourceDeploymentId: string | null;
    artifactPath?: string | null;
    status?: DeploymentStatus;
    id?: string;
  }): Deployment {
    const id = d.id ?? randomUUID();
    const ts = now();
    const seqRow = this.db
      .prepare(
        'SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM deployments WHERE service_id = ? AND environment_id = ?',
      )
      .get(d.serviceId, d.environmentId) as { seq: number };
    this.db
      .prepare(
        `INSERT INTO deployments (id, service_id, environment_id, seq, status, kind, message, source_deployment_id,
           source_path, artifact_path, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        d.serviceId,
        d.environmentId,
        seqRow.seq,
        d.status ?? 'QUEUED',
        d.kind,
        d.message,
        d.sourceDeploymentId,
        d.sourcePath,
        d.artifactPath ?? null,
        ts,
        ts,
      );
    return this.getDeployment(id);
  }

  findDeployment(id: string): Deployment | null {
    const r = this.db.prepare('SELECT * FROM deployments WHERE id = ?').get(id) as Row | undefined;
    return r ? toDeployment(r, this.box) : null;
  }

  getDeployment(id: string): Deployment {
    const d = this.findDeployment(id);
    if (!d)
      throw new NotFoundError(`Deployment "${id}" does not exist; list them with \`berth deployments\`.`);
    return d;
  }

  /** Newest first. */
  listDeployments(serviceId: string, environmentId: string, limit = 20): Deployment[] {
    return this.db
      .prepare(
        'SELECT * FROM deployments WHERE service_id = ? AND environment_id = ? ORDER BY seq DESC LIMIT ?',
      )
      .all(serviceId, environmentId, limit)
      .map((r) => toDeployment(r as Row, this.box));
  }

  deploymentsWithStatus(statuses: DeploymentStatus[]): Deployment[] {
    const marks = statuses.map(() => '?').join(',');
    return this.db
      .prepare(`SELECT * FROM deployments WHERE status IN (${marks}) ORDER BY created_at`)
      .all(...statuses)
      .map((r) => toDeployment(r as Row, this.box));
  }

  setDeploymentStatus(id: string, status: DeploymentStatus, reason: string | null): void {
    this.db
      .prepare('UPDATE deployments SET status = ?, reason = ?, updated_at = ? WHERE id = ?')
      .run(status, reason, now(), id);
  }

  setDeploymentConfig(
    id: string,
    c: { config: ServiceConfig; origins: Record<string, ValueOrigin>; warnings: string[] },
  ): void {
    this.db
      .prepare(
        'UPDATE deployments SET config_json = ?, origins_json = ?, warnings_json = ?, updated_at = ? WHERE id = ?',
      )
      .run(JSON.stringify(c.config), JSON.stringify(c.origins), JSON.stringify(c.warnings), now(), id);
  }

  setDeploymentVariables(id: string, variables: Record<string, string>, sealedNames: string[]): void {
    this.db
      .prepare(
        'UPDATE deployments SET variables_json = ?, sealed_names_json = ?, updated_at = ? WHERE id = ?',
      )
      .run(
        this.box.seal(JSON.stringify(variables), deploymentAad(id)),
        JSON.stringify(sealedNames),
        now(),
        id,
      );
  }

  metaValue(key: string): string | null {
    const r = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as
      | { value: string }
      | undefined;
    return r?.value ?? null;
  }

  setMetaValue(key: string, value: string): void {
    this.db
      .prepare(
        'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      )
      .run(key, value);
  }

  setDeploymentSource(id: string, source: DeploymentSource): void {
    this.db
      .prepare(
        'UPDATE deployments SET root_directory = ?, config_path = ?, changed_files_json = ?, updated_at = ? WHERE id = ?',
      )
      .run(
        source.rootDirectory,
        source.configPath,
        source.changedFiles ? JSON.stringify(source.changedFiles) : null,
        now(),
        id,
      );
  }

  setDeploymentGitMeta(id: string, meta: GitMeta): void {
    this.db
      .prepare(
        'UPDATE deployments SET git_sha = ?, git_branch = ?, git_author = ?, git_message = ? WHERE id = ?',
      )
      .run(meta.sha, meta.branch, meta.author, meta.message, id);
  }

  /**
   * The commit a deployment runs. Redeploys, rollbacks and restarts reuse an earlier deployment's source, so
   * it is looked up along `source_deployment_id`; null for deployments not made from a git push.
   */
  deploymentGitMeta(id: string): GitMeta | null {
    const get = this.db.prepare(
      'SELECT git_sha, git_branch, git_author, git_message, source_deployment_id FROM deployments WHERE id = ?',
    );
    let next: string | null = id;
    for (let hops = 0; next !== null && hops < 50; hops++) {
      const r = get.get(next) as GitRow | undefined;
      if (!r) return null;
      if (r.git_sha) {
        return {
          sha: r.git_sha,
          branch: r.git_branch ?? '',
          author: r.git_author ?? '',
          message: r.git_message ?? '',
        };
      }
      next = r.source_deployment_id;
    }
    return null;
  }

  setDeploymentBuildKey(id: string, key: string): void {
    this.db.prepare('UPDATE deployments SET build_key = ?, updated_at = ? WHERE id = ?').run(key, now(), id);
  }

  /** A finished build with this key whose artifact is still on disk is checked by the caller. */
  builtWithKey(key: string): { id: string; artifactPath: string }[] {
    return (
      this.db
        .prepare(
          'SELECT id, artifact_path FROM deployments WHERE build_key = ? AND artifact_path IS NOT NULL ORDER BY created_at DESC',
        )
        .all(key) as { id: string; artifact_path: string }[]
    ).map((r) => ({ id: r.id, artifactPath: r.artifact_path }));
  }

  setDeploymentArtifact(id: string, artifactPath: string): void {
    this.db
      .prepare('UPDATE deployments SET artifact_path = ?, updated_at = ? WHERE id = ?')
      .run(artifactPath, now(), id);
  }

  // --- custom domains -----------------------------------------------------

  /** Adds a custom domain (already normalised); 409 naming the owner when the name is taken. */
  addDomain(hostname: string, serviceId: string, environmentId: string, httpsRedirect = true): CustomDomain {
    const owner = this.domainOwner(hostname);
    if (owner) {
      const service = this.serviceById(owner.serviceId);
      const env = this.environmentById(owner.environmentId);
      const project = this.projectById(service.projectId);
      const same = owner.serviceId === serviceId && owner.environmentId === environmentId;
      throw new UserError(
        same
          ? `${hostname} is already a domain of this service.`
          : `${hostname} is already the domain of service ${service.name} (${env.name}) in project ${project.name}; delete it there first.`,
        { status: 409, code: 'domain_taken' },
      );
    }
    this.db
      .prepare(
        'INSERT INTO domains (hostname, service_id, environment_id, https_redirect, created_at) VALUES (?, ?, ?, ?, ?)',
      )
      .run(hostname, serviceId, environmentId, httpsRedirect ? 1 : 0, now());
    return this.domainOwner(hostname) as CustomDomain;
  }

  domainOwner(hostname: string): CustomDomain | null {
    const r = this.db.prepare('SELECT * FROM domains WHERE hostname = ?').get(hostname) as Row | undefined;
    return r ? toDomain(r) : null;
  }

  /** Custom domains of one service in one environment, or of everything when no ids are given. */
  domains(serviceId?: string, environmentId?: string): CustomDomain[] {
    const rows =
      serviceId === undefined
        ? this.db.prepare('SELECT * FROM domains ORDER BY hostname').all()
        : this.db
            .prepare('SELECT * FROM domains WHERE service_id = ? AND environment_id = ? ORDER BY hostname')
            .all(serviceId, environmentId);
    return rows.map((r) => toDomain(r as Row));
  }

  /** Deletes a custom domain of this service; false when it has no such domain. */
  deleteDomain(hostname: string, serviceId: string, environmentId: string): boolean {
    const res = this.db
      .prepare('DELETE FROM domains WHERE hostname = ? AND service_id = ? AND environment_id = ?')
      .run(hostname, serviceId, environmentId);
    return res.changes > 0;
  }

  // --- edge policies ------------------------------------------------------

  /** The `berth waf` settings of a service in an environment (keys absent = not set there). */
  edgePolicy(serviceId: string, environmentId: string): Partial<EdgeConfig> {
    const r = this.db
      .prepare('SELECT policy_json FROM edge_policies WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as { policy_json: string } | undefined;
    return r ? (JSON.parse(r.policy_json) as Partial<EdgeConfig>) : {};
  }

  setEdgePolicy(serviceId: string, environmentId: string, policy: Partial<EdgeConfig>): void {
    this.db
      .prepare(
        `INSERT INTO edge_policies (service_id, environment_id, policy_json, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET policy_json = excluded.policy_json,
           updated_at = excluded.updated_at`,
      )
      .run(serviceId, environmentId, JSON.stringify(policy), now());
  }

  // --- certificates -------------------------------------------------------

  saveCertificate(c: StoredCertificate): void {
    this.db
      .prepare(
        `INSERT INTO certificates (hostname, source, cert_pem, key_pem, not_after, updated_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (hostname) DO UPDATE SET source = excluded.source, cert_pem = excluded.cert_pem,
           key_pem = excluded.key_pem, not_after = excluded.not_after, updated_at = excluded.updated_at`,
      )
      .run(
        c.hostname,
        c.source,
        c.certPem,
        this.box.seal(c.keyPem, certificateAad(c.hostname)),
        c.notAfter,
        now(),
      );
  }

  certificate(hostname: string): StoredCertificate | null {
    const r = this.db.prepare('SELECT * FROM certificates WHERE hostname = ?').get(hostname) as
      | Row
      | undefined;
    if (!r) return null;
    return {
      hostname,
      source: r.source as CertificateSource,
      certPem: r.cert_pem as string,
      keyPem: this.box.open(r.key_pem as string, certificateAad(hostname)),
      notAfter: r.not_after as string,
    };
  }

  /** What is known of a stored certificate without opening its key (for checks on every routing change). */
  certificateInfo(
    hostname: string,
  ): { source: CertificateSource; notAfter: string; updatedAt: string } | null {
    const r = this.db
      .prepare('SELECT source, not_after, updated_at FROM certificates WHERE hostname = ?')
      .get(hostname) as Row | undefined;
    return r
      ? {
          source: r.source as CertificateSource,
          notAfter: r.not_after as string,
          updatedAt: r.updated_at as string,
        }
      : null;
  }

  certificateHostnames(): string[] {
    return (this.db.prepare('SELECT hostname FROM certificates').all() as { hostname: string }[]).map(
      (r) => r.hostname,
    );
  }

  deleteCertificate(hostname: string): void {
    this.db.prepare('DELETE FROM certificates WHERE hostname = ?').run(hostname);
    this.db.prepare('DELETE FROM certificate_attempts WHERE hostname = ?').run(hostname);
  }

  setCertificateAttempt(
    hostname: string,
    status: 'pending' | 'failed' | 'issued',
    error: string | null,
  ): void {
    this.db
      .prepare(
        `INSERT INTO certificate_attempts (hostname, status, error, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (hostname) DO UPDATE SET status = excluded.status, error = excluded.error,
           updated_at = excluded.updated_at`,
      )
      .run(hostname, status, error, now());
  }

  certificateAttempt(hostname: string): { status: string; error: string | null; updatedAt: string } | null {
    const r = this.db.prepare('SELECT * FROM certificate_attempts WHERE hostname = ?').get(hostname) as
      | Row
      | undefined;
    return r
      ? { status: r.status as string, error: (r.error as string) ?? null, updatedAt: r.updated_at as string }
      : null;
  }

  // --- private endpoints -------------------------------------------------

  /**
   * The private-network number of a service in an environment, allocated on first use and kept for
   * good (so its address and default port never change). Numbers of deleted services are not reused
   * while a higher one exists.
   */
  privateEndpointSeq(serviceId: string, environmentId: string): number {
    const get = this.db.prepare(
      'SELECT seq FROM private_endpoints WHERE service_id = ? AND environment_id = ?',
    );
    const found = get.get(serviceId, environmentId) as { seq: number } | undefined;
    if (found) return found.seq;
    return this.db.transaction(() => {
      const again = get.get(serviceId, environmentId) as { seq: number } | undefined;
      if (again) return again.seq;
      const { next } = this.db
        .prepare('SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM private_endpoints')
        .get() as {
        next: number;
      };
      this.db
        .prepare('INSERT INTO private_endpoints (service_id, environment_id, seq) VALUES (?, ?, ?)')
        .run(serviceId, environmentId, next);
      return next;
    })();
  }

  /**
   * The sandbox user number of a service in an environment, allocated on first use and kept for good;
   * numbers are never handed out twice, even after the service is deleted.
   */
  sandboxUserSeq(serviceId: string, environmentId: string): number {
    const get = this.db.prepare('SELECT seq FROM sandbox_users WHERE service_id = ? AND environment_id = ?');
    const found = get.get(serviceId, environmentId) as { seq: number } | undefined;
    if (found) return found.seq;
    this.db
      .prepare('INSERT OR IGNORE INTO sandbox_users (service_id, environment_id) VALUES (?, ?)')
      .run(serviceId, environmentId);
    return (get.get(serviceId, environmentId) as { seq: number }).seq;
  }

  // --- instances ----------------------------------------------------------

  createInstance(deploymentId: string, replica: number, port: number): StoredInstance {
    const id = randomUUID();
    const ts = now();
    this.db
      .prepare(
        `INSERT INTO instances (id, deployment_id, replica, port, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, 'starting', ?, ?)`,
      )
      .run(id, deploymentId, replica, port, ts, ts);
    return this.getInstance(id);
  }

  getInstance(id: string): StoredInstance {
    return toInstance(this.db.prepare('SELECT * FROM instances WHERE id = ?').get(id) as Row);
  }

  instancesOf(deploymentId: string): StoredInstance[] {
    return this.db
      .prepare('SELECT * FROM instances WHERE deployment_id = ? ORDER BY replica')
      .all(deploymentId)
      .map((r) => toInstance(r as Row));
  }

  /** Instances that may still have a live process. */
  liveInstances(): StoredInstance[] {
    return this.db
      .prepare(`SELECT * FROM instances WHERE state NOT IN ('exited', 'crashed')`)
      .all()
      .map((r) => toInstance(r as Row));
  }

  updateInstance(
    id: string,
    patch: Partial<{
      pid: number | null;
      pidStartTime: string | null;
      port: number;
      state: InstanceState;
      restarts: number;
      exitCode: number | null;
      stdoutOffset: number;
      stderrOffset: number;
    }>,
  ): void {
    const cols: Record<string, string> = {
      pid: 'pid',
      pidStartTime: 'pid_start_time',
      port: 'port',
      state: 'state',
      restarts: 'restarts',
      exitCode: 'exit_code',
      stdoutOffset: 'stdout_offset',
      stderrOffset: 'stderr_offset',
    };
    const keys = Object.keys(patch).filter((k) => k in cols);
    if (keys.length === 0) return;
    const sets = keys.map((k) => `${cols[k]} = ?`).join(', ');
    const values = keys.map((k) => (patch as Record<string, unknown>)[k]);
    this.db.prepare(`UPDATE instances SET ${sets}, updated_at = ? WHERE id = ?`).run(...values, now(), id);
  }
}
