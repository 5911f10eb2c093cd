#!/usr/bin/env node
/**
 * A longer run of the HTTP/1 differential fuzz test (test/security/http1-differential-fuzz.test.ts): the built-in
 * edge's request side against llhttp on generated request streams. CI runs one fixed seed; this runs any.
 *
 *   node bench/fuzz-http1.mjs [--seed N] [--count M] [--report FILE]
 *
 * Exit code 0 when every case agreed; the failing cases (bytes, llhttp's parse, what the app got) are printed
 * and, with --report, written to FILE.
 */

import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: {
    seed: { type: 'string', default: String(Date.now() % 1_000_000_007) },
    count: { type: 'string', default: '50000' },
    report: { type: 'string' },
  },
});
for (const k of ['seed', 'count']) {
  if (!/^\d+$/.test(values[k])) {
    process.stderr.write(`--${k} must be a whole number, got "${values[k]}"\n`);
    process.exit(2);
  }
}
process.stdout.write(`fuzzing the edge's HTTP/1 request side: seed ${values.seed}, ${values.count} cases\n`);
const child = spawn(
  process.execPath,
  [
    path.join(root, 'node_modules', 'vitest', 'vitest.mjs'),
    'run',
    'test/security/http1-differential-fuzz.test.ts',
    '--testTimeout',
    String(Math.max(120_000, Number(values.count) * 20)),
  ],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      FUZZ_SEED: values.seed,
      FUZZ_CASES: values.count,
      ...(values.report ? { FUZZ_REPORT: path.resolve(values.report) } : {}),
    },
  },
);
const stop = () => child.kill('SIGTERM');
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
child.on('exit', (code) => process.exit(code ?? 1));
