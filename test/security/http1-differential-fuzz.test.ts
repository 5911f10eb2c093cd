/**
 * Differential fuzz of the built-in edge's HTTP/1 request side (its fast path, then Node's server) against
 * llhttp, the parser of Node's own http server, on generated request streams that mix valid and invalid framing:
 * duplicate Content-Length, Content-Length with Transfer-Encoding, Transfer-Encoding variants, obs-fold, bare
 * CR/LF, spaces before colons, huge values, Connection tokens, malformed chunks, pipelining.
 *
 * For each stream the app behind the edge must receive only requests llhttp also sees in those bytes, each
 * exactly as llhttp frames it (method, target, body), in order — where the two disagree about where a request
 * ends or whether it is valid, the edge refuses it — and the edge must answer without hanging: every request
 * llhttp completes gets a response, and bytes llhttp rejects end with the edge closing the connection.
 *
 * The upstream side too: generated responses go to the edge's own response parser (http1.ts) and to llhttp's;
 * a response the edge accepts must be one llhttp frames the same way (status, body, where it ends).
 *
 * A fixed seed runs here; `node bench/fuzz-http1.mjs --seed N --count M` runs longer.
 */

import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseParser } from '../../src/edge/http1.js';
import { EdgeProxy } from '../../src/edge/proxy.js';
import { proxyRoute, RecordingApp, waitFor } from '../helpers/edges.js';
import {
  FUZZ_HOST,
  fuzzCase,
  fuzzResponse,
  type ParsedRequest,
  prng,
  reference,
  referenceResponse,
} from '../helpers/http1-fuzz.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20240613);
const COUNT = Number(process.env.FUZZ_CASES ?? 3000);
/** Cases in flight at once. */
const PARALLEL = 16;
/** Longest an answer may take: a case that waits longer counts as a hang. */
const ANSWER_MS = Number(process.env.FUZZ_ANSWER_MS ?? 3000);

interface EdgeAnswer {
  /** Final responses (status >= 200) the edge sent. */
  responses: number[];
  closed: boolean;
  hung: boolean;
}

/** Final responses in `text` whose heads are complete (their bodies are not needed: we count heads). */
function finalStatuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.[01] (\d{3})[^\r\n]*\r\n/g)]
    .map((m) => Number(m[1]))
    .filter((s) => s >= 200);
}

function sendToEdge(
  port: number,
  bytes: string,
  wantResponses: number,
  untilClose: boolean,
): Promise<EdgeAnswer> {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closed: boolean, hung: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: finalStatuses(text), closed, hung });
    };
    const timer = setTimeout(() => finish(false, true), ANSWER_MS);
    sock.on('connect', () => sock.write(Buffer.from(bytes, 'latin1')));
    sock.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (!untilClose && wantResponses > 0 && finalStatuses(text).length >= wantResponses) {
        // Let the last response's body arrive with it: a later byte would only be a next response we did not ask for.
        setImmediate(() => finish(false, false));
      }
    });
    sock.on('error', () => finish(true, false));
    sock.on('close', () => finish(true, false));
    if (!untilClose && wantResponses === 0) setTimeout(() => finish(false, false), 50);
  });
}

/** `got` is `want` with some requests left out (refused by the edge), nothing added or changed. */
function isSubsequence(got: ParsedRequest[], want: ParsedRequest[]): boolean {
  let j = 0;
  for (const g of got) {
    while (
      j < want.length &&
      !(want[j].method === g.method && want[j].url === g.url && want[j].body === g.body)
    )
      j++;
    if (j === want.length) return false;
    j++;
  }
  return true;
}

describe('HTTP/1 differential fuzz: built-in edge vs llhttp', () => {
  const app = new RecordingApp();
  const proxy = new EdgeProxy({});
  const server = proxy.createServer();
  let port = 0;

  beforeAll(async () => {
    await app.start();
    proxy.setTable({ version: 1, routes: [proxyRoute(FUZZ_HOST, app.port)] });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    proxy.fast?.closeAll();
    await new Promise((r) => server.close(r));
    await proxy.close();
    await app.close();
  });

  it(`${COUNT} generated streams (seed ${SEED}): the app sees only what llhttp sees, and nothing hangs`, async () => {
    const failures: string[] = [];
    /** Requests llhttp completes in all cases, and how many of them reached the app through the edge. */
    let complete = 0;
    let served = 0;
    const runCase = async (id: number) => {
      const bytes = fuzzCase(SEED, id);
      const ref = reference(bytes);
      const answer = await sendToEdge(port, bytes, ref.messages.length, ref.end === 'error');
      // Requests the edge forwarded are recorded once the app read them whole; the response followed that.
      const mine = new RegExp(`c${id}/`);
      const got = app.received
        .filter((r) => mine.test(r.url))
        .map((r) => ({ method: r.method, url: r.url, body: r.body }));
      complete += ref.messages.length;
      served += got.length;
      const problems: string[] = [];
      if (!isSubsequence(got, ref.messages)) problems.push('the app got requests llhttp does not see');
      if (answer.hung) problems.push('the edge hung');
      // Refusing is allowed (with an answer), dropping the connection without one is not.
      if (ref.messages.length > 0 && answer.responses.length === 0 && !answer.hung)
        problems.push('the edge closed without answering');
      if (ref.end === 'error' && !answer.closed)
        problems.push('the edge kept a connection llhttp rejects open');
      if (problems.length > 0) {
        failures.push(
          `case ${id}: ${problems.join('; ')}\n  bytes: ${JSON.stringify(bytes)}\n  llhttp: ${JSON.stringify(ref)}\n` +
            `  app: ${JSON.stringify(got)}\n  edge: ${JSON.stringify(answer)}`,
        );
      }
    };
    let next = 0;
    await Promise.all(
      Array.from({ length: PARALLEL }, async () => {
        while (next < COUNT) await runCase(next++);
      }),
    );
    if (process.env.FUZZ_REPORT) fs.writeFileSync(process.env.FUZZ_REPORT, failures.join('\n'));
    // Every client is gone: nothing may stay in flight (an upstream connection waiting for a body that will
    // never come holds a pool slot until the 15 min upstream timeout).
    await waitFor('no request in flight once every client left', () => proxy.active === 0, {
      timeoutMs: 5000,
    });
    expect(
      failures.slice(0, 5).join('\n'),
      `${failures.length} of ${COUNT} cases failed (seed ${SEED})`,
    ).toBe('');
    // The checks above hold for an edge that refuses everything: most requests llhttp completes must reach the
    // app (about 85% do; the rest are refused where the edge and llhttp read the bytes differently).
    if (complete >= 100) expect(served / complete).toBeGreaterThan(0.75);
  });

  it(`${COUNT} generated responses (seed ${SEED}): the edge's response parser accepts only what llhttp frames the same`, () => {
    const failures: string[] = [];
    /** Responses llhttp frames as one good response, and how many of them the edge's parser accepted. */
    let framed = 0;
    let taken = 0;
    for (let id = 0; id < COUNT; id++) {
      const bytes = fuzzResponse(SEED, id);
      const head = id % 10 === 0;
      const ref = referenceResponse(bytes, head);
      // The edge's parser (http1.ts), fed in up to three pieces as reads would come, then the upstream's EOF.
      let status = 0;
      let body = '';
      let ended = false;
      const parser = new ResponseParser(
        {
          onResponseHead: (st) => {
            status = st;
          },
          onResponseData: (chunk) => {
            body += chunk.toString('latin1');
          },
          onResponseEnd: () => {
            ended = true;
          },
        },
        http.maxHeaderSize,
      );
      parser.reset(head);
      const buf = Buffer.from(bytes, 'latin1');
      const r = prng(id);
      const cuts = [Math.floor(r() * buf.length), Math.floor(r() * buf.length)].sort((a, b) => a - b);
      let error: string | null = null;
      for (const piece of [buf.subarray(0, cuts[0]), buf.subarray(cuts[0], cuts[1]), buf.subarray(cuts[1])]) {
        if (piece.length === 0 || error !== null) continue;
        error = parser.execute(piece)?.message ?? null;
      }
      if (error === null) {
        const fin = parser.finish();
        if (fin === 'empty') error = 'empty';
        else if (fin !== null) error = fin.message;
      }
      const accepted = error === null && ended;
      const agrees =
        ref.error === null &&
        ref.responses.length === 1 &&
        ref.responses[0].status === status &&
        ref.responses[0].body === body;
      if (ref.error === null && ref.responses.length === 1) {
        framed++;
        if (accepted && agrees) taken++;
      }
      if (accepted && !agrees) {
        failures.push(
          `response ${id}: the edge accepted what llhttp frames otherwise\n  bytes: ${JSON.stringify(bytes)}\n` +
            `  llhttp: ${JSON.stringify(ref)}\n  edge: ${JSON.stringify({ status, body, head })}`,
        );
      }
    }
    if (process.env.FUZZ_REPORT) {
      fs.appendFileSync(process.env.FUZZ_REPORT, failures.join('\n'));
    }
    expect(
      failures.slice(0, 5).join('\n'),
      `${failures.length} of ${COUNT} responses failed (seed ${SEED})`,
    ).toBe('');
    // A parser that refuses everything passes the check above: most responses llhttp frames as one good response
    // must be taken, framed the same (about 90% are; the edge is stricter on the rest).
    if (framed >= 100) expect(taken / framed).toBeGreaterThan(0.8);
  });
});
