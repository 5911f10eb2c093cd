import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sourceFiles } from '../helpers/import-graph.js';

const SRC = path.resolve(import.meta.dirname, '..', '..', 'src');

/** Static imports or re-exports of the AWS SDK that load it with the module (type-only ones load nothing). */
function staticSdkImports(text: string): string[] {
  return [...text.matchAll(/^(?:import|export)\s+(?!type\b)[^;]*?from\s+['"](@aws-sdk\/[^'"]+)['"]/gm)].map(
    (m) => m[1],
  );
}

describe('the AWS SDK', () => {
  it('is loaded only on first use of an S3 target (a dynamic import), so the idle daemon does not carry it', () => {
    const offenders = sourceFiles(SRC).flatMap((file) =>
      staticSdkImports(fs.readFileSync(file, 'utf8')).map((m) => `${path.relative(SRC, file)}: ${m}`),
    );
    expect(offenders).toEqual([]);
    expect(fs.readFileSync(path.join(SRC, 'backup', 's3-target.ts'), 'utf8')).toContain(
      "import('@aws-sdk/client-s3')",
    );
  });

  it('tells a static import from a type-only one', () => {
    expect(staticSdkImports("import { S3Client } from '@aws-sdk/client-s3';")).toEqual([
      '@aws-sdk/client-s3',
    ]);
    expect(staticSdkImports("import {\n  S3Client,\n} from '@aws-sdk/client-s3';")).toEqual([
      '@aws-sdk/client-s3',
    ]);
    expect(staticSdkImports("export * from '@aws-sdk/client-s3';")).toEqual(['@aws-sdk/client-s3']);
    expect(staticSdkImports("import type { S3Client } from '@aws-sdk/client-s3';")).toEqual([]);
  });
});
