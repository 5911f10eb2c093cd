import { UserError } from '../core/errors.js';

/**
 * How much and how long the API reads from one request. JSON routes need little; only `berth up`'s
 * upload is big, and it is streamed to disk against a byte cap, an idle timeout and a whole-upload deadline.
 */
export interface ApiLimits {
  /** Largest JSON (or other buffered) body. */
  jsonBodyBytes: number;
  /** Largest `berth up` upload (Railway answers 413 past its limit too). */
  uploadBytes: number;
  /** The whole upload must arrive within this. */
  uploadTimeoutMs: number;
  /** Longest pause between two pieces of an upload. */
  uploadIdleMs: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  jsonBodyBytes: 1024 * 1024,
  uploadBytes: 512 * 1024 * 1024,
  uploadTimeoutMs: 15 * 60_000,
  uploadIdleMs: 60_000,
};

const ENV: Record<keyof ApiLimits, string> = {
  jsonBodyBytes: 'BERTH_MAX_JSON_BYTES',
  uploadBytes: 'BERTH_MAX_UPLOAD_BYTES',
  uploadTimeoutMs: 'BERTH_UPLOAD_TIMEOUT_MS',
  uploadIdleMs: 'BERTH_UPLOAD_IDLE_MS',
};

/** The defaults, each overridable by its BERTH_* variable (a positive integer). */
export function apiLimitsFromEnv(env: NodeJS.ProcessEnv = process.env): ApiLimits {
  const limits = { ...DEFAULT_API_LIMITS };
  for (const key of Object.keys(ENV) as (keyof ApiLimits)[]) {
    const raw = env[ENV[key]];
    if (raw === undefined || raw === '') continue;
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) {
      throw new UserError(`${ENV[key]}="${raw}" is not a positive whole number; fix or unset it.`);
    }
    limits[key] = n;
  }
  return limits;
}
