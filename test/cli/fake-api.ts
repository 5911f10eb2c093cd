import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A test double of the Berth HTTP API (docs/api.md): just enough routes, with canned answers, to
 * exercise the CLI as a real process and record what it sent. Not the real server.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

export type Outcome = 'SUCCESS' | 'FAILED' | 'drop';

interface FakeEnvironment {
  name: string;
  kind: string;
  branch: string | null;
  createdAt: string;
}

interface VariablesPatch {
  set?: Record<string, string>;
  delete?: string[];
  sealed?: boolean;
  skipDeploys?: boolean;
}

/** Plain values and sealed values of one scope (a service, or an environment's shared variables). */
class FakeVariables {
  constructor(
    public values: Record<string, string> = {},
    public sealed: Record<string, string> = {},
  ) {}

  /** The plain GET: sealed variables are left out. */
  plain(): Record<string, string> {
    return { ...this.values };
  }

  detail(): { name: string; sealed: boolean; value: string | null }[] {
    return [
      ...Object.entries(this.values).map(([name, value]) => ({ name, sealed: false, value })),
      ...Object.keys(this.sealed).map((name) => ({ name, sealed: true, value: null })),
    ];
  }

  /** A variable stays sealed when set again. */
  apply(patch: VariablesPatch): void {
    for (const [k, v] of Object.entries(patch.set ?? {})) {
      if (patch.sealed || k in this.sealed) {
        delete this.values[k];
        this.sealed[k] = v;
      } else this.values[k] = v;
    }
    for (const k of patch.delete ?? []) {
      delete this.values[k];
      delete this.sealed[k];
    }
  }
}

const CREATED = '2024-01-01T00:00:00Z';

interface FakeDeployment {
  id: string;
  status: string;
  reason: string | null;
  createdAt: string;
}

export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  token = 'good-token';
  /** project name → service names */
  readonly projects = new Map<string, Set<string>>();
  /** The service variables (one set, whatever the service); `variables` holds the plain ones. */
  serviceVars = new FakeVariables();
  /** The shared variables (one set, whatever the environment). */
  sharedVars = new FakeVariables();
  environments: FakeEnvironment[] = [
    { name: 'production', kind: 'persistent', branch: null, createdAt: CREATED },
  ];
  rotateAnswer = { oldKeyId: 'k1a2b3', newKeyId: 'k9f8e7', values: 12 };
  /** When set, rotate-master-key answers 409 with this message. */
  rotateRefusal: string | null = null;
  outcome: Outcome = 'SUCCESS';
  deployments: FakeDeployment[] = [];
  readonly statusAnswer: {
    project: string;
    environment: string;
    services: unknown[];
    disk?: { path: string; freeBytes: number; totalBytes: number };
  } = {
    project: 'demo',
    environment: 'production',
    services: [
      {
        name: 'web',
        status: 'SUCCESS',
        url: 'http://web-demo.localhost:8080',
        deploymentId: 'dep-9',
        replicas: 2,
      },
      { name: 'worker', status: null, url: null, deploymentId: null, replicas: 0 },
    ],
  };
  get variables(): Record<string, string> {
    return this.serviceVars.values;
  }

  set variables(values: Record<string, string>) {
    this.serviceVars.values = values;
  }

  private server = http.createServer((req, res) => this.handle(req, res));
  private nextId = 1;
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  reset(): void {
    this.requests.length = 0;
    this.projects.clear();
    this.serviceVars = new FakeVariables();
    this.sharedVars = new FakeVariables();
    this.environments = [{ name: 'production', kind: 'persistent', branch: null, createdAt: CREATED }];
    this.rotateRefusal = null;
    this.outcome = 'SUCCESS';
    this.deployments = [];
    this.token = 'good-token';
    this.nextId = 1;
  }

  /** The latest recorded request matching method and path. */
  find(method: string, pathPattern: RegExp): RecordedRequest | undefined {
    return [...this.requests].reverse().find((r) => r.method === method && pathPattern.test(r.path));
  }

  /** Answers JSON; true means "handled", so a route can `return this.send(…)`. */
  private send(res: http.ServerResponse, status: number, body: unknown): true {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return true;
  }

  private error(res: http.ServerResponse, status: number, message: string): true {
    return this.send(res, status, { error: { code: 'err', message } });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const rec: RecordedRequest = {
        method: req.method ?? 'GET',
        path: decodeURIComponent(url.pathname),
        query: url.searchParams,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body: Buffer.concat(chunks),
      };
      this.requests.push(rec);
      this.route(rec, res);
    });
  }

  /** The body of a recorded request as JSON. */
  static json(r: RecordedRequest | undefined): unknown {
    return JSON.parse(r?.body.toString() || 'null');
  }

  private route(r: RecordedRequest, res: http.ServerResponse): true {
    const p = r.path;
    if (r.method === 'GET' && p === '/v1/health') return this.send(res, 200, { ok: true, version: '0.1.0' });
    if (r.authorization !== `Bearer ${this.token}`) return this.error(res, 401, 'Missing or invalid token.');

    if (p === '/v1/whoami' && r.method === 'GET') return this.send(res, 200, { kind: 'admin' });

    if (p === '/v1/admin/rotate-master-key' && r.method === 'POST') {
      if (this.rotateRefusal) return this.error(res, 409, this.rotateRefusal);
      return this.send(res, 200, this.rotateAnswer);
    }

    if (p === '/v1/projects' && r.method === 'GET') {
      return this.send(
        res,
        200,
        [...this.projects.keys()].map((name) => ({
          id: `id-${name}`,
          name,
          createdAt: '2024-01-01T00:00:00Z',
        })),
      );
    }
    if (p === '/v1/projects' && r.method === 'POST') {
      const { name } = JSON.parse(r.body.toString()) as { name: string };
      if (this.projects.has(name)) return this.error(res, 409, `Project "${name}" already exists.`);
      this.projects.set(name, new Set());
      return this.send(res, 201, {
        id: `id-${name}`,
        name,
        createdAt: '2024-01-01T00:00:00Z',
        environments: [{ id: 'env-1', name: 'production' }],
      });
    }
    let m = /^\/v1\/projects\/([^/]+)$/.exec(p);
    if (m && r.method === 'GET') {
      const services = this.projects.get(m[1]);
      if (!services)
        return this.error(res, 404, `Project "${m[1]}" does not exist; create it with \`berth init\`.`);
      return this.send(res, 200, {
        id: `id-${m[1]}`,
        name: m[1],
        createdAt: '2024-01-01T00:00:00Z',
        environments: this.environments.map((e) => ({
          id: `env-${e.name}`,
          name: e.name,
          createdAt: e.createdAt,
        })),
        services: [...services].map((s) => ({ id: `id-${s}`, name: s, createdAt: '2024-01-01T00:00:00Z' })),
      });
    }
    m = /^\/v1\/projects\/([^/]+)\/services$/.exec(p);
    if (m && r.method === 'POST') {
      const { name } = JSON.parse(r.body.toString()) as { name: string };
      const services = this.projects.get(m[1]);
      if (!services) return this.error(res, 404, `Project "${m[1]}" does not exist.`);
      services.add(name);
      return this.send(res, 201, { id: `id-${name}`, name, createdAt: '2024-01-01T00:00:00Z' });
    }
    m = /^\/v1\/projects\/([^/]+)\/environments\/([^/]+)\/status$/.exec(p);
    if (m) return this.send(res, 200, this.statusAnswer);

    m = /^\/v1\/projects\/([^/]+)\/environments$/.exec(p);
    if (m && r.method === 'GET') return this.send(res, 200, this.environments);
    if (m && r.method === 'POST') {
      const { name, duplicate } = FakeApi.json(r) as { name: string; duplicate?: string };
      if (this.environments.some((e) => e.name === name)) {
        return this.error(res, 409, `Environment "${name}" already exists.`);
      }
      if (duplicate && !this.environments.some((e) => e.name === duplicate)) {
        return this.error(res, 404, `Environment "${duplicate}" does not exist.`);
      }
      const env = { name, kind: 'persistent', branch: null, createdAt: CREATED };
      this.environments.push(env);
      const deploymentIds = duplicate ? ['dep-db', 'dep-web'] : [];
      return this.send(res, 201, { name, createdAt: env.createdAt, deploymentIds });
    }

    m = /^\/v1\/projects\/([^/]+)\/environments\/([^/]+)\/variables$/.exec(p);
    if (m && r.method === 'GET') {
      return this.send(
        res,
        200,
        r.query.get('detail') === '1' ? this.sharedVars.detail() : this.sharedVars.plain(),
      );
    }
    if (m && r.method === 'PATCH') {
      const patch = FakeApi.json(r) as VariablesPatch;
      this.sharedVars.apply(patch);
      return this.send(res, 200, {
        variables: this.sharedVars.plain(),
        deploymentIds: patch.skipDeploys ? [] : ['dep-s1', 'dep-s2'],
      });
    }

    m = /^\/v1\/projects\/([^/]+)\/environments\/([^/]+)\/services\/([^/]+)\/(\w+(?:\/resolved)?)$/.exec(p);
    if (m) {
      const [, project, , service, action] = m;
      if (action === 'up' && r.method === 'POST') {
        if (r.query.get('create') === '1') {
          if (!this.projects.has(project)) this.projects.set(project, new Set());
          this.projects.get(project)?.add(service);
        }
        const id = `dep-${this.nextId++}`;
        this.deployments.unshift({ id, status: 'QUEUED', reason: null, createdAt: new Date().toISOString() });
        return this.send(res, 201, {
          deploymentId: id,
          status: 'QUEUED',
          url: `http://${service}.localhost:8080`,
        });
      }
      if (action === 'deployments') {
        return this.send(
          res,
          200,
          this.deployments.map((d) => ({ ...d, kind: 'up', message: null })),
        );
      }
      if (action === 'variables' && r.method === 'GET') {
        return this.send(
          res,
          200,
          r.query.get('detail') === '1' ? this.serviceVars.detail() : this.serviceVars.plain(),
        );
      }
      if (action === 'variables/resolved' && r.method === 'GET') {
        // The real server also resolves references and adds RAILWAY_*; integration tests cover that.
        return this.send(res, 200, this.serviceVars.plain());
      }
      if (action === 'variables' && r.method === 'PATCH') {
        this.serviceVars.apply(FakeApi.json(r) as VariablesPatch);
        return this.send(res, 200, { variables: this.serviceVars.plain(), deploymentId: 'dep-vars' });
      }
      if (action === 'redeploy')
        return this.send(res, 201, { deploymentId: 'dep-redeploy', status: 'QUEUED' });
    }

    m = /^\/v1\/deployments\/([^/]+)\/logs$/.exec(p);
    if (m) return this.logs(m[1], r, res);
    m = /^\/v1\/deployments\/([^/]+)$/.exec(p);
    if (m) {
      const final = this.outcome === 'FAILED' ? 'FAILED' : 'SUCCESS';
      return this.send(res, 200, {
        id: m[1],
        status: final,
        reason: final === 'FAILED' ? 'the build command exited with code 2' : null,
        createdAt: '2024-01-01T00:00:00Z',
        updatedAt: '2024-01-01T00:00:00Z',
        kind: 'up',
        service: 'svc',
        environment: 'production',
        project: 'demo',
        url: 'http://svc.localhost:8080',
        replicas: [],
      });
    }
    return this.error(res, 404, `No route for ${r.method} ${p}.`);
  }

  private logs(id: string, r: RecordedRequest, res: http.ServerResponse): true {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    const t = '2024-01-01T00:00:00Z';
    const line = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
    if (r.query.get('follow') !== '1') {
      line({
        type: 'log',
        time: t,
        stream: 'stdout',
        level: 'info',
        message: `hello from ${id}`,
        replica: 0,
      });
      res.end();
      return true;
    }
    line({ type: 'status', status: 'BUILDING', reason: null });
    line({ type: 'log', time: t, stream: 'build', level: 'info', message: 'npm install', replica: null });
    if (this.outcome === 'drop') {
      // The server goes away mid-stream (after the lines above reach the CLI): it must fall back to polling.
      setTimeout(() => res.socket?.destroy(), 100);
      return true;
    }
    if (this.outcome === 'FAILED') {
      line({ type: 'status', status: 'FAILED', reason: 'the build command exited with code 2' });
      res.end();
      return true;
    }
    line({ type: 'status', status: 'DEPLOYING', reason: null });
    line({
      type: 'log',
      time: t,
      stream: 'system',
      level: 'info',
      message: 'Starting replica 0',
      replica: 0,
    });
    line({ type: 'log', time: t, stream: 'stdout', level: 'info', message: 'listening on 3000', replica: 0 });
    line({ type: 'status', status: 'SUCCESS', reason: null });
    res.end();
    return true;
  }
}
