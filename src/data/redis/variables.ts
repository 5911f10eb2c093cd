/** Railway's provided variables of a Redis service, from its credentials and addresses (pure). */
import type { EngineEndpoint } from '../engine.js';

export function redisUrl(e: { username: string; password: string }, host: string, port: number): string {
  return `redis://${encodeURIComponent(e.username)}:${encodeURIComponent(e.password)}@${host}:${port}`;
}

/** REDIS_URL, REDISHOST, REDISPORT, REDISUSER, REDISPASSWORD (and REDIS_PUBLIC_URL when public). */
export function redisVariables(e: EngineEndpoint): Record<string, string> {
  const v: Record<string, string> = {
    REDIS_URL: redisUrl(e, e.privateHost, e.privatePort),
    REDISHOST: e.privateHost,
    REDISPORT: String(e.privatePort),
    REDISUSER: e.username,
    REDISPASSWORD: e.password,
  };
  if (e.publicHost && e.publicPort) v.REDIS_PUBLIC_URL = redisUrl(e, e.publicHost, e.publicPort);
  return v;
}
