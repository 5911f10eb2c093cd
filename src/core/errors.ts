/**
 * Errors a user sees. Each carries one sentence that names what was wrong and what to do,
 * plus an HTTP status so the API can answer 4xx without guessing.
 */
export class UserError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(message: string, opts: { status?: number; code?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'UserError';
    this.status = opts.status ?? 400;
    this.code = opts.code ?? 'bad_request';
  }
}

export class NotFoundError extends UserError {
  constructor(message: string) {
    super(message, { status: 404, code: 'not_found' });
    this.name = 'NotFoundError';
  }
}

/** A railway.toml / railway.json / berth.toml problem: names the file, the key and what was expected. */
export class ConfigError extends UserError {
  readonly file: string;
  readonly key: string | null;

  constructor(file: string, key: string | null, message: string) {
    super(key ? `${file}: ${key} ${message}` : `${file}: ${message}`, {
      status: 400,
      code: 'invalid_config',
    });
    this.name = 'ConfigError';
    this.file = file;
    this.key = key;
  }
}

/** A build that could not produce an artifact; the message is what the user reads in `berth deployments`. */
export class BuildError extends UserError {
  constructor(message: string) {
    super(message, { status: 400, code: 'build_failed' });
    this.name = 'BuildError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
