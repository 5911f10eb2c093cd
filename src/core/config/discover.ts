/**
 * Finds and parses the config file inside a source tree. Paths are always resolved inside the source
 * root: the tree is user-uploaded, and a symlinked railway.toml pointing at a host file would otherwise
 * leak that file's contents through parse-error messages.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import { ConfigError } from '../errors.js';

export interface ConfigSource {
  /** Relative to the source root, with `/` separators: what users see in messages and origins. */
  file: string;
  absolutePath: string;
  format: 'toml' | 'json';
}

/** Railway reads railway.toml then railway.json; berth.toml is Berth's own name for the same schema. */
export const DEFAULT_CONFIG_FILES = ['railway.toml', 'railway.json', 'berth.toml'] as const;

export function discoverConfigFile(
  sourceDir: string,
  configPath: string | undefined,
  warnings: string[],
): ConfigSource | null {
  if (configPath !== undefined && configPath.trim() !== '') return explicitConfigFile(sourceDir, configPath);
  const found = DEFAULT_CONFIG_FILES.filter((name) => isFile(path.join(sourceDir, name)));
  const [first, ...rest] = found;
  if (first === undefined) return null;
  for (const other of rest) warnings.push(`${other}: ignored because ${first} is read first`);
  return checkedSource(sourceDir, first);
}

function explicitConfigFile(sourceDir: string, configPath: string): ConfigSource {
  // Railway's config path is "absolute from the repo root", so a leading slash means the source root.
  const file = path.posix.normalize(configPath.trim().replace(/\\/g, '/').replace(/^\/+/, ''));
  if (file === '.' || file === '..' || file.startsWith('../')) {
    throw new ConfigError(configPath, null, 'the config path must name a file inside the source directory');
  }
  if (!/\.(toml|json)$/i.test(file)) {
    throw new ConfigError(file, null, 'the config path must name a .toml or .json file');
  }
  const absolutePath = path.join(sourceDir, file);
  if (!fs.existsSync(absolutePath)) {
    throw new ConfigError(
      file,
      null,
      "the configured config file was not found in the source; add it or fix the service's config path",
    );
  }
  if (!isFile(absolutePath)) throw new ConfigError(file, null, 'the configured config path is not a file');
  return checkedSource(sourceDir, file);
}

function checkedSource(sourceDir: string, file: string): ConfigSource {
  const absolutePath = path.join(sourceDir, file);
  const root = fs.realpathSync(sourceDir);
  const real = fs.realpathSync(absolutePath);
  if (real !== root && !real.startsWith(root + path.sep)) {
    throw new ConfigError(
      file,
      null,
      'is a link that points outside the source directory, so it is not read',
    );
  }
  return { file, absolutePath, format: /\.json$/i.test(file) ? 'json' : 'toml' };
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

export function readConfigDocument(source: ConfigSource): unknown {
  let text: string;
  try {
    text = fs.readFileSync(source.absolutePath, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new ConfigError(source.file, null, `could not be read (${code})`);
  }
  // Editors on Windows may prepend a byte-order mark, which JSON.parse rejects.
  text = text.replace(/^\uFEFF/, '');
  return source.format === 'json' ? parseJson(text, source.file) : parseTomlText(text, source.file);
}

function parseTomlText(text: string, file: string): unknown {
  try {
    return parseToml(text);
  } catch (err) {
    if (!(err instanceof TomlError)) throw err;
    // Only the first line: the rest is a code excerpt that does not fit a one-sentence message.
    const reason = err.message.split('\n')[0].replace(/^Invalid TOML document:\s*/, '');
    throw new ConfigError(
      file,
      null,
      `could not be parsed: ${reason} (line ${err.line}, column ${err.column})`,
    );
  }
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    if (!(err instanceof SyntaxError)) throw err;
    throw new ConfigError(file, null, `could not be parsed: ${jsonReason(err.message, text)}`);
  }
}

/** V8 reports a character offset; people look for a line. */
function jsonReason(message: string, text: string): string {
  const flat = message.replace(/\s+/g, ' ').trim();
  const position = /\s*(?:in JSON )?at position (\d+)(?: \(line \d+ column \d+\))?/.exec(flat);
  if (!position) return flat;
  const before = text.slice(0, Number(position[1]));
  const line = before.split('\n').length;
  const column = before.length - before.lastIndexOf('\n');
  return `${flat.replace(position[0], '')} (line ${line}, column ${column})`;
}
