import { randomUUID } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { NotFoundError } from '../core/errors.js';
import type {
  Deployment,
  DeploymentSource,
  DeploymentStatus,
  GitMeta,
  ServiceConfig,
  ValueOrigin,
} from '../core/model.js';
import { now, type Row, type StoreContext } from './context.js';
import { deploymentAad } from './sealed-columns.js';
import { SecretBox } from './secret-box.js';

export function toDeployment(r: Row, box: SecretBox): Deployment {
  const id = String(r.id);
  const rawVars = String(r.variables_json);
  return {
    id,
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

interface GitRow {
  git_sha: string | null;
  git_branch: string | null;
  git_author: string | null;
  git_message: string | null;
  source_deployment_id: string | null;
}

export interface NewDeployment {
  serviceId: string;
  environmentId: string;
  kind: Deployment['kind'];
  message: string | null;
  sourcePath: string;
  sourceDeploymentId: string | null;
  artifactPath?: string | null;
  status?: DeploymentStatus;
  id?: string;
}

/**
 * Table `deployments` (variables sealed as one JSON value) and `service_state`, which records the
 * deployment each service serves in each environment.
 */
export class Deployments {
  private readonly activeStatements = new Map<string, Statement>();

  constructor(private readonly ctx: StoreContext) {}

  private map = (r: unknown): Deployment => toDeployment(r as Row, this.ctx.box);

  create(d: NewDeployment): Deployment {
    const id = d.id ?? randomUUID();
    const ts = now();
    const { db } = this.ctx;
    const seqRow = db
      .prepare(
        'SELECT COALESCE(MAX(seq), 0) + 1 AS seq FROM deployments WHERE service_id = ? AND environment_id = ?',
      )
      .get(d.serviceId, d.environmentId) as { seq: number };
    db.prepare(
      `INSERT INTO deployments (id, service_id, environment_id, seq, status, kind, message, source_deployment_id,
         source_path, artifact_path, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
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
    return this.get(id);
  }

  find(id: string): Deployment | null {
    const r = this.ctx.db.prepare('SELECT * FROM deployments WHERE id = ?').get(id);
    return r ? this.map(r) : null;
  }

  get(id: string): Deployment {
    const d = this.find(id);
    if (!d)
      throw new NotFoundError(`Deployment "${id}" does not exist; list them with \`berth deployments\`.`);
    return d;
  }

  /** Newest first. */
  list(serviceId: string, environmentId: string, limit = 20): Deployment[] {
    return this.ctx.db
      .prepare(
        'SELECT * FROM deployments WHERE service_id = ? AND environment_id = ? ORDER BY seq DESC LIMIT ?',
      )
      .all(serviceId, environmentId, limit)
      .map(this.map);
  }

  withStatus(statuses: DeploymentStatus[]): Deployment[] {
    const marks = statuses.map(() => '?').join(',');
    return this.ctx.db
      .prepare(`SELECT * FROM deployments WHERE status IN (${marks}) ORDER BY created_at`)
      .all(...statuses)
      .map(this.map);
  }

  /** Deployments of an environment, any service, oldest first. */
  ofEnvironment(environmentId: string): Deployment[] {
    return this.ctx.db
      .prepare('SELECT * FROM deployments WHERE environment_id = ? ORDER BY created_at')
      .all(environmentId)
      .map(this.map);
  }

  /** Deployments of a service, every environment, oldest first. */
  ofService(serviceId: string): Deployment[] {
    return this.ctx.db
      .prepare('SELECT * FROM deployments WHERE service_id = ? ORDER BY created_at')
      .all(serviceId)
      .map(this.map);
  }

  /** WAITING git deployments of a project for one commit. */
  waitingForCommit(projectId: string, sha: string): Deployment[] {
    return this.ctx.db
      .prepare(
        `SELECT d.* FROM deployments d JOIN services s ON s.id = d.service_id
         WHERE s.project_id = ? AND d.status = 'WAITING' AND d.git_sha = ? ORDER BY d.created_at`,
      )
      .all(projectId, sha)
      .map(this.map);
  }

  /** Which of these source/artifact paths a deployment outside `exceptIds` still uses. */
  pathsStillUsed(paths: string[], exceptIds: Set<string>): Set<string> {
    const used = new Set<string>();
    const q = this.ctx.db.prepare('SELECT id FROM deployments WHERE source_path = ? OR artifact_path = ?');
    for (const p of paths) {
      const ids = q.all(p, p) as { id: string }[];
      if (ids.some((r) => !exceptIds.has(r.id))) used.add(p);
    }
    return used;
  }

  /** A finished build with this key whose artifact is still on disk is checked by the caller. */
  builtWithKey(key: string): { id: string; artifactPath: string }[] {
    return (
      this.ctx.db
        .prepare(
          'SELECT id, artifact_path FROM deployments WHERE build_key = ? AND artifact_path IS NOT NULL ORDER BY created_at DESC',
        )
        .all(key) as { id: string; artifact_path: string }[]
    ).map((r) => ({ id: r.id, artifactPath: r.artifact_path }));
  }

  setStatus(id: string, status: DeploymentStatus, reason: string | null): void {
    this.ctx.db
      .prepare('UPDATE deployments SET status = ?, reason = ?, updated_at = ? WHERE id = ?')
      .run(status, reason, now(), id);
  }

  setConfig(
    id: string,
    c: { config: ServiceConfig; origins: Record<string, ValueOrigin>; warnings: string[] },
  ): void {
    this.ctx.db
      .prepare(
        'UPDATE deployments SET config_json = ?, origins_json = ?, warnings_json = ?, updated_at = ? WHERE id = ?',
      )
      .run(JSON.stringify(c.config), JSON.stringify(c.origins), JSON.stringify(c.warnings), now(), id);
  }

  /** `berth scale`: the deployment now runs n replicas (its config's numReplicas, so clones keep it). */
  setReplicaCount(id: string, n: number): void {
    this.ctx.db
      .prepare(
        "UPDATE deployments SET config_json = json_set(config_json, '$.deploy.numReplicas', ?), updated_at = ? WHERE id = ?",
      )
      .run(n, now(), id);
  }

  /** `berth scale` on an autoscaled deployment: its count is the new floor. */
  setMinReplicas(id: string, n: number): void {
    this.ctx.db
      .prepare(
        "UPDATE deployments SET config_json = json_set(config_json, '$.deploy.minReplicas', ?), updated_at = ? WHERE id = ?",
      )
      .run(n, now(), id);
  }

  setVariables(id: string, variables: Record<string, string>, sealedNames: string[]): void {
    this.ctx.db
      .prepare(
        'UPDATE deployments SET variables_json = ?, sealed_names_json = ?, updated_at = ? WHERE id = ?',
      )
      .run(
        this.ctx.box.seal(JSON.stringify(variables), deploymentAad(id)),
        JSON.stringify(sealedNames),
        now(),
        id,
      );
  }

  /** Where the uploaded source was moved once the deployment had an id to name it by. */
  setSourcePath(id: string, sourcePath: string): void {
    this.ctx.db.prepare('UPDATE deployments SET source_path = ? WHERE id = ?').run(sourcePath, id);
  }

  setSource(id: string, source: DeploymentSource): void {
    this.ctx.db
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

  setGitMeta(id: string, meta: GitMeta): void {
    this.ctx.db
      .prepare(
        'UPDATE deployments SET git_sha = ?, git_branch = ?, git_author = ?, git_message = ? WHERE id = ?',
      )
      .run(meta.sha, meta.branch, meta.author, meta.message, id);
  }

  /**
   * The commit a deployment runs. Redeploys, rollbacks and restarts reuse an earlier deployment's source, so
   * it is looked up along `source_deployment_id`; null for deployments not made from a git push.
   */
  findGitMeta(id: string): GitMeta | null {
    const get = this.ctx.db.prepare(
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

  setBuildKey(id: string, key: string): void {
    this.ctx.db
      .prepare('UPDATE deployments SET build_key = ?, updated_at = ? WHERE id = ?')
      .run(key, now(), id);
  }

  setArtifact(id: string, artifactPath: string): void {
    this.ctx.db
      .prepare('UPDATE deployments SET artifact_path = ?, updated_at = ? WHERE id = ?')
      .run(artifactPath, now(), id);
  }

  /** The deployment a service serves in an environment (table `service_state`), or null. */
  findActiveId(serviceId: string, environmentId: string): string | null {
    const r = this.ctx.db
      .prepare('SELECT active_deployment_id FROM service_state WHERE service_id = ? AND environment_id = ?')
      .get(serviceId, environmentId) as { active_deployment_id: string | null } | undefined;
    return r?.active_deployment_id ?? null;
  }

  setActive(serviceId: string, environmentId: string, deploymentId: string | null): void {
    this.ctx.db
      .prepare(
        `INSERT INTO service_state (service_id, environment_id, active_deployment_id) VALUES (?, ?, ?)
         ON CONFLICT (service_id, environment_id) DO UPDATE SET active_deployment_id = excluded.active_deployment_id`,
      )
      .run(serviceId, environmentId, deploymentId);
  }

  /** The active deployment of every (service, environment) pair that has one. */
  listActive(): Deployment[] {
    return this.listActiveWhere('1');
  }

  /**
   * Active deployments whose config sets maxReplicas: what the autoscaler reads every round. Filtered in SQL,
   * so an idle round decrypts no deployment's variables.
   */
  listActiveAutoscaled(): Deployment[] {
    return this.listActiveWhere("json_extract(d.config_json, '$.deploy.maxReplicas') IS NOT NULL");
  }

  /** Active deployments whose config sets sleepApplication = true: what the app sleep poller reads every round. */
  listActiveSleepy(): Deployment[] {
    return this.listActiveWhere("json_extract(d.config_json, '$.deploy.sleepApplication') = 1");
  }

  /**
   * `condition` is one of the constant SQL fragments above, never built from input. Prepared once: the pollers
   * run these every 500 ms, and compiling the statement cost more than running it.
   */
  private listActiveWhere(condition: string): Deployment[] {
    let statement = this.activeStatements.get(condition);
    if (!statement) {
      statement = this.ctx.db.prepare(
        `SELECT d.* FROM service_state s JOIN deployments d ON d.id = s.active_deployment_id
         WHERE s.active_deployment_id IS NOT NULL AND ${condition}`,
      );
      this.activeStatements.set(condition, statement);
    }
    return statement.all().map(this.map);
  }

  /** A service's deployments and service state; their instances must be gone first. */
  deleteOfService(serviceId: string): void {
    this.ctx.db.prepare('DELETE FROM deployments WHERE service_id = ?').run(serviceId);
    this.ctx.db.prepare('DELETE FROM service_state WHERE service_id = ?').run(serviceId);
  }

  /** An environment's deployments and service state; their instances must be gone first. */
  deleteOfEnvironment(environmentId: string): void {
    this.ctx.db.prepare('DELETE FROM deployments WHERE environment_id = ?').run(environmentId);
    this.ctx.db.prepare('DELETE FROM service_state WHERE environment_id = ?').run(environmentId);
  }
}
