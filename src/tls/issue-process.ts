/**
 * Certificate issuance off the daemon's heap: `issueInChildProcess()` runs one job (a local-CA leaf, or an ACME
 * order) in a short-lived child process (`node issue-process.js`, the job as JSON on stdin, the result as
 * JSON on stdout). @peculiar/x509 and acme-client together weigh ~50 MB once loaded and a daemon needs them
 * every few weeks; a worker thread would leave its memory in the daemon's RSS, a process returns it all.
 */

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { IssuedCertificate } from './local-ca.js';

/** An ACME order can wait on the CA's validation; local issuance takes milliseconds. */
const JOB_TIMEOUT_MS = 6 * 60_000;

export type IssueJob =
  | { kind: 'local'; caDir: string; hostnames: string[] }
  | {
      kind: 'acme';
      directoryUrl: string;
      email: string;
      accountKeyPem: string;
      challengeDir: string;
      hostname: string;
    };

type Reply = { ok: true; certPem: string; keyPem: string; notAfter: string } | { ok: false; error: string };

/** Runs a job in a fresh child process; rejects with the job's own error message. */
export function issueInChildProcess(job: IssueJob): Promise<IssuedCertificate> {
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
      if (r?.ok) resolve({ certPem: r.certPem, keyPem: r.keyPem, notAfter: new Date(r.notAfter) });
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

async function run(job: IssueJob): Promise<IssuedCertificate> {
  if (job.kind === 'local') {
    const { LocalCa } = await import('./local-ca.js');
    const ca = await LocalCa.open(job.caDir);
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
    const c = await run(JSON.parse(input) as IssueJob);
    reply = { ok: true, certPem: c.certPem, keyPem: c.keyPem, notAfter: c.notAfter.toISOString() };
  } catch (err) {
    reply = { ok: false, error: (err as Error).message };
  }
  process.stdout.write(JSON.stringify(reply));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void child();
