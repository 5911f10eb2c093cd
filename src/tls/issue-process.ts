/**
 * Certificate issuance off the daemon's heap: `issueInChildProcess()` runs one job (a local-CA leaf, or an ACME
 * order) in a short-lived child process (`node issue-process.js`, the job as JSON on stdin, the result as
 * JSON on stdout). @peculiar/x509 and acme-client together weigh ~50 MB once loaded and a daemon needs them
 * every few weeks; a worker thread would leave its memory in the daemon's RSS, a process returns it all.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IssuedCertificate } from './local-ca.js';

/** An ACME order can wait on the CA's validation; local issuance takes milliseconds. */
const JOB_TIMEOUT_MS = 6 * 60_000;

export type IssueJob =
  /** A leaf from the local CA; a CA created now is constrained to `zone`. */
  | { kind: 'local'; caDir: string; zone: string; hostnames: string[] }
  | {
      kind: 'acme';
      directoryUrl: string;
      email: string;
      accountKeyPem: string;
      challengeDir: string;
      hostname: string;
    };

/** Reads the DNS zones the local CA's certificate is constrained to (null: unconstrained). */
type InspectJob = { kind: 'inspect-local-ca'; caDir: string };

type Reply =
  | { ok: true; certPem: string; keyPem: string; notAfter: string }
  | { ok: true; zones: string[] | null }
  | { ok: false; error: string };

/** Runs a job in a fresh child process; rejects with the job's own error message. */
export async function issueInChildProcess(job: IssueJob): Promise<IssuedCertificate> {
  const r = await inChildProcess(job);
  if (!('certPem' in r)) throw new Error('certificate job answered without a certificate');
  return { certPem: r.certPem, keyPem: r.keyPem, notAfter: new Date(r.notAfter) };
}

/** The zones `<caDir>/ca.pem` is constrained to, or null when it has no name constraints. */
export async function localCaZonesInChildProcess(caDir: string): Promise<string[] | null> {
  const r = await inChildProcess({ kind: 'inspect-local-ca', caDir });
  if (!('zones' in r)) throw new Error('local CA inspection answered without zones');
  return r.zones;
}

function inChildProcess(job: IssueJob | InspectJob): Promise<Reply & { ok: true }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: JOB_TIMEOUT_MS,
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      let r: Reply | null = null;
      try {
        r = JSON.parse(out) as Reply;
      } catch {
        /* no answer */
      }
      if (r?.ok) resolve(r);
      else if (r) reject(new Error(r.error));
      else
        reject(
          new Error(
            `certificate job ended (${signal ?? `code ${code}`}) without an answer: ${err.trim().slice(-300)}`,
          ),
        );
    });
    child.stdin.end(JSON.stringify(job));
  });
}

async function run(job: IssueJob | InspectJob): Promise<Reply> {
  if (job.kind === 'inspect-local-ca') {
    const { permittedZones } = await import('./local-ca.js');
    return { ok: true, zones: await permittedZones(fs.readFileSync(path.join(job.caDir, 'ca.pem'), 'utf8')) };
  }
  const c = await issue(job);
  return { ok: true, certPem: c.certPem, keyPem: c.keyPem, notAfter: c.notAfter.toISOString() };
}

async function issue(job: IssueJob): Promise<IssuedCertificate> {
  if (job.kind === 'local') {
    const { LocalCa } = await import('./local-ca.js');
    const ca = await LocalCa.open(job.caDir, undefined, { zone: job.zone });
    return ca.issue(job.hostnames);
  }
  const { AcmeIssuer } = await import('./acme.js');
  const issuer = new AcmeIssuer(
    { directoryUrl: job.directoryUrl, email: job.email },
    job.accountKeyPem,
    job.challengeDir,
  );
  return issuer.issue(job.hostname);
}

/** Entry point of the child: one job from stdin, one answer on stdout. */
async function child(): Promise<void> {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  let reply: Reply;
  try {
    reply = await run(JSON.parse(input) as IssueJob | InspectJob);
  } catch (err) {
    reply = { ok: false, error: (err as Error).message };
  }
  process.stdout.write(JSON.stringify(reply));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void child();
