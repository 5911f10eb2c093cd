import { afterEach, describe, expect, it, vi } from 'vitest';
import { Poller } from '../../src/lib/poller.js';

/** A round that waits until released, counting how many started and how many ran at once. */
function gatedRound() {
  const state = { started: 0, concurrent: 0, maxConcurrent: 0 };
  let release: () => void = () => undefined;
  const round = async () => {
    state.started++;
    state.concurrent++;
    state.maxConcurrent = Math.max(state.maxConcurrent, state.concurrent);
    await new Promise<void>((r) => {
      release = r;
    });
    state.concurrent--;
  };
  return { state, round, release: () => release() };
}

describe('Poller', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs a round every interval once started, and none after stop', async () => {
    vi.useFakeTimers();
    let rounds = 0;
    const p = new Poller({ everyMs: 500, round: () => void rounds++, onError: () => undefined });
    await vi.advanceTimersByTimeAsync(2000);
    expect(rounds).toBe(0); // not started
    p.start();
    p.start(); // a second start adds no second timer
    await vi.advanceTimersByTimeAsync(2000);
    expect(rounds).toBe(4);
    p.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(rounds).toBe(4);
  });

  it('never runs two rounds at once: ticks while a round runs do nothing', async () => {
    vi.useFakeTimers();
    const g = gatedRound();
    const p = new Poller({ everyMs: 100, round: g.round, onError: () => undefined });
    p.start();
    await vi.advanceTimersByTimeAsync(1000); // ten ticks, the first round still waiting
    expect(g.state).toEqual({ started: 1, concurrent: 1, maxConcurrent: 1 });
    g.release();
    await vi.advanceTimersByTimeAsync(100);
    expect(g.state.started).toBe(2);
    expect(g.state.maxConcurrent).toBe(1);
    p.stop();
    g.release();
  });

  it('tick() during a round resolves when that round ends, without starting another', async () => {
    const g = gatedRound();
    const p = new Poller({ everyMs: 60_000, round: g.round, onError: () => undefined });
    const first = p.tick();
    const second = p.tick();
    await vi.waitFor(() => expect(g.state.started).toBe(1));
    let secondDone = false;
    void second.then(() => {
      secondDone = true;
    });
    await Promise.resolve();
    expect(secondDone).toBe(false);
    g.release();
    await Promise.all([first, second]);
    expect(g.state.started).toBe(1);
    const third = p.tick();
    await vi.waitFor(() => expect(g.state.started).toBe(2));
    g.release();
    await third;
  });

  it('a round that throws (synchronously or not) is reported and the next round still runs', async () => {
    const errors: string[] = [];
    let n = 0;
    const p = new Poller({
      everyMs: 60_000,
      round: () => {
        n++;
        if (n === 1) throw new Error('sync failure');
        if (n === 2) return Promise.reject(new Error('async failure'));
      },
      onError: (err) => errors.push((err as Error).message),
    });
    await p.tick();
    await p.tick();
    await p.tick();
    expect(n).toBe(3);
    expect(errors).toEqual(['sync failure', 'async failure']);
  });
});
