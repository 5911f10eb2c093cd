/** redis-server's command line and the config file Berth keeps in the volume, pure (tests assert them exactly). */

/** The port Redis listens on at the service's private address (Railway's REDISPORT). */
export const REDIS_PORT = 6379;

/** The config file in the volume: Berth's lines, then what `berth db config set` kept there (CONFIG REWRITE). */
export const REDIS_CONF = 'redis.conf';

/**
 * The server in the foreground. What Berth owns and is no secret is on the command line, which outranks the
 * config file: where it listens (the private address only, no Unix socket), where its data is, that it stays in
 * the foreground and logs to stdout (the engine's log). The password is in the config file, not in argv (ps).
 */
export function redisServerArgv(
  server: string,
  o: { configFile: string; dir: string; bind: string; port: number },
): string[] {
  return [
    server,
    o.configFile,
    '--bind',
    o.bind,
    '--port',
    String(o.port),
    '--dir',
    o.dir,
    '--daemonize',
    'no',
    '--supervised',
    'no',
    '--logfile',
    '',
    '--pidfile',
    '',
    '--unixsocket',
    '',
    // A backup's snapshot is sent as to a replica; the default 5 s wait for more replicas to share one
    // transfer only delays it (Berth's Redis has no replicas).
    '--repl-diskless-sync-delay',
    '0',
  ];
}

/**
 * Settings Berth owns: where it listens and keeps its data, how it authenticates, how it runs. Refused by
 * `berth db config set`, and re-asserted in the config file at every start whatever a client set.
 */
export const OWNED_SETTINGS = new Set([
  'requirepass',
  'user',
  'aclfile',
  'masterauth',
  'masteruser',
  'replicaof',
  'slaveof',
  'bind',
  'bind-source-addr',
  'port',
  'tls-port',
  'unixsocket',
  'unixsocketperm',
  'dir',
  'dbfilename',
  'appenddirname',
  'appendfilename',
  'daemonize',
  'supervised',
  'pidfile',
  'logfile',
  'protected-mode',
  'include',
  'rename-command',
  'enable-protected-configs',
  'enable-debug-command',
  'enable-module-command',
  'repl-diskless-sync-delay',
]);

/**
 * Persistence Berth turns on for a new Redis (a store, not a cache: Railway's "store" guide): the AOF fsynced
 * every second (at most ~1 s of acknowledged writes lost to a power cut; none to a crash of redis-server or a
 * restart), plus RDB snapshots on Redis's own default schedule for fast restarts and backups. A user may change
 * them (`berth db config set appendonly=no` for a cache).
 */
export const DEFAULT_SETTINGS: readonly (readonly [string, string])[] = [
  ['appendonly', 'yes'],
  ['appendfsync', 'everysec'],
  ['save', '3600 1 300 100 60 10000'],
];

const HEADER = [
  '# Written by Berth. The lines up to the first blank line are rewritten by Berth at every start; settings',
  '# changed with `berth db config set` (CONFIG SET, then CONFIG REWRITE) are kept below them.',
];

/**
 * The config file for a start: Berth's own lines first (the password; protected mode on), then every line of
 * the existing file (null: a new volume, which gets DEFAULT_SETTINGS) except Berth's header and owned settings.
 */
export function redisConfig(existing: string | null, o: { password: string }): string {
  const owned = [...HEADER, 'protected-mode yes', `requirepass ${o.password}`, ''];
  const kept =
    existing === null
      ? DEFAULT_SETTINGS.map(([k, v]) => `${k} ${v}`)
      : existing.split('\n').filter((line) => {
          const t = line.trim();
          if (t === '' || HEADER.includes(t)) return false;
          if (t.startsWith('#')) return true;
          return !OWNED_SETTINGS.has(t.split(/\s+/)[0].toLowerCase());
        });
  return `${[...owned, ...kept].join('\n')}\n`;
}
