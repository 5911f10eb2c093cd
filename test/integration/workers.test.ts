import fs from 'node:fs';
import { createRequire } from 'node:module';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { delay, waitFor } from '../../src/lib/wait.js';
import { BerthHarness } from '../helpers/berth.js';
import { needs } from '../helpers/optional-tools.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

const redisTools = needs(
  'redis-server',
  'worker services (a real BullMQ worker on a hand-started redis-server)',
);

describe.skipIf(redisTools.skip)(redisTools.title, () => {
  const berth = new BerthHarness();
  let redis: TestRedis;
  let queue: Queue;
  const scope = ['-p', 'wk', '-s', 'worker'];

  beforeAll(async () => {
    redis = await startRedis();
    queue = new Queue('work', { connection: { host: '127.0.0.1', port: redis.port } });
    await berth.start();
  });
  afterAll(async () => {
    await queue?.close();
    await berth.stop();
    await redis?.stop();
  });

  it('two worker replicas share a queue, and a redeploy drains them: every job completes exactly once', async () => {
    expect((await berth.cli(['init', '--name', 'wk'])).code).toBe(0);
    expect((await berth.cli(['add', '--service', 'worker', '-p', 'wk'])).code).toBe(0);
    // The worker loads bullmq from the repository's node_modules (readable in the sandbox), so no install.
    const bullmq = fs.realpathSync(createRequire(import.meta.url).resolve('bullmq'));
    const set = await berth.cli([
      'variables',
      'set',
      `REDIS_PORT=${redis.port}`,
      `BULLMQ_PATH=${bullmq}`,
      '--skip-deploys',
      ...scope,
    ]);
    expect(set.code, set.stderr).toBe(0);
    const up = await berth.cli(['up', berth.app('bullmq-worker'), ...scope]);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const [first] = await berth.settledDeployments(scope);
    expect(first.status).toBe('SUCCESS');
    const log = (await berth.cli(['logs', first.id, ...scope])).stdout;
    // Up after the 1 s stability window railway.toml asks for, not after a fixed 10 s.
    expect(log).toContain('still running after 1s (workerStabilitySeconds) and does not listen on $PORT');

    // Jobs go in before, during and after a redeploy; each takes 400 ms, so some are in flight when the old
    // replicas get SIGTERM.
    let producing = true;
    let added = 0;
    const producer = (async () => {
      while (producing) {
        await queue.add('job', { ms: 400 }, { jobId: `j${added}`, attempts: 1 });
        added += 1;
        await delay(60);
      }
    })();
    await waitFor('the first jobs to finish', async () => (await redis.client.llen('finished')) >= 6);
    const redeploy = await berth.cli(['redeploy', '-d', ...scope]);
    expect(redeploy.code, redeploy.stderr).toBe(0);
    const [second] = await waitFor(
      'the redeploy to finish and the old replicas to stop',
      async () => {
        const list = await berth.settledDeployments(scope);
        return list[0].id !== first.id && list[1]?.status === 'REMOVED' ? list : null;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    expect(second.status).toBe('SUCCESS');
    await delay(1000);
    producing = false;
    await producer;

    const finished = await waitFor(
      'every queued job to finish',
      async () => {
        const f = await redis.client.lrange('finished', 0, -1);
        return f.length >= added ? f : null;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const started = await redis.client.lrange('started', 0, -1);
    const ids = finished.map((l) => l.split(' ')[0]);
    // exactly once: no job ran twice (a job killed mid-run would be started again), none was lost
    expect(new Set(started).size).toBe(started.length);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(added);
    expect(await queue.getFailedCount()).toBe(0);
    // both replicas of each deployment took jobs off the one queue
    const replicas = new Set(finished.map((l) => l.split(' ')[1]));
    expect(replicas.size).toBeGreaterThanOrEqual(4);
    // the old replicas drained: SIGTERM, then the job in flight finished before they exited
    const oldLog = (await berth.cli(['logs', first.id, ...scope])).stdout;
    expect(oldLog.match(/drained/g)?.length, oldLog).toBe(2);
  }, 180_000);
});
