/**
 * `berth db config set` for Redis: CONFIG SET (takes effect at once; Redis refuses a bad value and keeps the
 * old one), then CONFIG REWRITE so the config file in the volume keeps it across restarts.
 */
import { UserError } from '../../core/errors.js';
import { OWNED_SETTINGS } from './argv.js';
import { RespError, type RespReply, redisCommands } from './resp.js';

const NAME = /^[a-z][a-z0-9-]*$/i;

/** A sentence saying why KEY cannot be set, or null when it may be. */
export function refusedRedisSetting(key: string): string | null {
  if (!NAME.test(key))
    return `"${key}" is not a Redis setting name (letters, digits and -, e.g. maxmemory-policy)`;
  if (OWNED_SETTINGS.has(key.toLowerCase())) {
    return `${key} is set by Berth (where Redis listens, keeps its data and how it authenticates) and cannot be changed`;
  }
  return null;
}

type Target = { host: string; port: number; username: string; password: string };

function failure(r: RespReply): string | null {
  return r instanceof RespError ? r.message : null;
}

/** CONFIG SET then CONFIG REWRITE; resolves with the value Redis now reports (CONFIG GET). */
export async function setRedisSetting(
  t: Target,
  name: string,
  key: string,
  value: string,
): Promise<{ key: string; value: string; action: 'live'; message: string }> {
  const refused = refusedRedisSetting(key);
  if (refused) throw new UserError(`${refused}.`);
  const [auth, set] = await redisCommands(t, [
    ['AUTH', t.username, t.password],
    ['CONFIG', 'SET', key, value],
  ]);
  const authFailed = failure(auth);
  if (authFailed) throw new Error(`Redis refused Berth's credentials: ${authFailed}`);
  const setFailed = failure(set);
  if (setFailed) {
    if (/Unknown option/i.test(setFailed)) {
      throw new UserError(
        `Redis has no setting "${key}" it can change at run time; \`berth connect ${name} -- CONFIG GET '*'\` lists them.`,
        { status: 404, code: 'not_found' },
      );
    }
    throw new UserError(`Redis refused ${key} = ${value}: ${setFailed.replace(/^ERR\s+/, '')}`);
  }
  const [, rewrite, got] = await redisCommands(t, [
    ['AUTH', t.username, t.password],
    ['CONFIG', 'REWRITE'],
    ['CONFIG', 'GET', key],
  ]);
  const rewriteFailed = failure(rewrite);
  if (rewriteFailed) {
    throw new UserError(
      `Redis applied ${key} = ${value} but could not keep it in its config file (${rewriteFailed}); it lasts until ${name} restarts.`,
    );
  }
  const now = Array.isArray(got) && typeof got[1] === 'string' ? got[1] : value;
  return {
    key,
    value: now,
    action: 'live',
    message: `Set ${key} = ${now} on ${name}: applied at once (CONFIG SET, no restart) and kept in its config file (CONFIG REWRITE)`,
  };
}
