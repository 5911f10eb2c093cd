import type { ServiceConfig } from '../core/model.js';
import type { JobGroups } from '../runtime/job-groups.js';
import type { SandboxHost, SandboxUser } from '../runtime/sandbox.js';

export interface BuildRequest {
  /** Directory holding the extracted source snapshot; the build runs in it and it becomes the artifact. */
  appDir: string;
  /** Shared, persistent cache root (dependency installs keyed by lockfile hash live under it). */
  cacheDir: string;
  config: ServiceConfig;
  /** The service's variables, visible to install and build commands. */
  env: Record<string, string>;
  /** Each line of build output, already split; stream tells stdout from stderr and Berth's own notes. */
  log: (line: string, stream: 'stdout' | 'stderr' | 'system') => void;
  signal: AbortSignal;
  /** Whole-build limit; exceeding it fails the build with a message saying so. */
  timeoutMs: number;
  /** Records the process group of each command while it runs, so a daemon that crashed is cleaned up after. */
  jobs?: JobGroups;
  /**
   * Run every command that can execute the app's code (installs, builds) as this user in a sandbox that sees
   * appDir and the user's own directories; absent: as the daemon's user.
   */
  sandbox?: { host: SandboxHost; user: SandboxUser } | null;
}

/** What the runtime needs to run the artifact, written to `<appDir>/../artifact.json`. */
export interface BuildResult {
  provider: 'node' | 'python' | 'go' | 'static' | 'procfile' | 'shell';
  /** How replicas serve: a process listening on $PORT, or files served by the edge. */
  kind: 'process' | 'static';
  /** Shell command run through `sh -c` in appDir (kind = process). */
  startCommand: string | null;
  /** Directory (relative to appDir) served by the edge (kind = static). */
  staticRoot: string | null;
  /**
   * The file (relative to staticRoot) served with 200 for a path that is not a file and has no extension or
   * asks for HTML: index.html for SPAs, so client routes and deep links work. Absent/null: a 404.
   */
  staticFallback?: string | null;
  /** Extra environment for pre-deploy and replicas (PATH with the venv, NODE_ENV, ...). */
  runtimeEnv: Record<string, string>;
  /** Plain-language notes shown in the build log (e.g. "DOCKERFILE requested; building natively"). */
  notes: string[];
  /** Cache hit/miss for the dependency install, for logs and benches. */
  cache: 'hit' | 'miss' | 'none';
}
