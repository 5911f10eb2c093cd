import { describe, expect, it } from 'vitest';
import {
  planRestore,
  prunable,
  recoverySpans,
  restoreRanges,
  restoreWindow,
} from '../../src/backup/pitr-window.js';
import {
  type BaseBackupRecord,
  defaultBaseBackupCron,
  type WalFileRecord,
} from '../../src/core/pitr-model.js';

const subject = { serviceId: 's', environmentId: 'e' };
const seg = (n: number, closedAt: string, tli = 1): WalFileRecord => {
  const name = `${tli.toString(16).toUpperCase().padStart(8, '0')}00000000${n.toString(16).toUpperCase().padStart(8, '0')}`;
  return {
    ...subject,
    name,
    key: `wal/s/e/${name}.gz`,
    sizeBytes: 1,
    sha256: 'x',
    closedAt,
    shippedAt: closedAt,
  };
};
const base = (
  id: string,
  createdAt: string,
  start: number,
  end: number | null,
  status: BaseBackupRecord['status'] = 'verified',
): BaseBackupRecord => ({
  ...subject,
  id,
  status,
  key: `base/${id}`,
  startWal: `0000000100000000${start.toString(16).toUpperCase().padStart(8, '0')}`,
  endWal: end === null ? null : `0000000100000000${end.toString(16).toUpperCase().padStart(8, '0')}`,
  sizeBytes: 1,
  sha256: 'x',
  error: null,
  createdAt,
  finishedAt: createdAt,
});

describe('point-in-time restore: the window', () => {
  const wal = [
    seg(2, '2026-12-01T00:00:01Z'),
    seg(3, '2026-12-01T00:00:02Z'),
    seg(4, '2026-12-01T01:00:00Z'),
    seg(5, '2026-12-01T02:00:00Z'),
    // 6 is missing: the chain from base a ends at 5
    seg(7, '2026-12-02T00:00:05Z'),
    seg(8, '2026-12-02T03:00:00Z'),
  ];
  const bases = [
    base('a', '2026-12-01T00:00:00Z', 2, 3),
    base('b', '2026-12-02T00:00:00Z', 7, 7),
    base('c', '2026-12-03T00:00:00Z', 9, 9),
  ];

  it('opens a span per usable base backup, from its end to the last file of an unbroken chain', () => {
    const spans = recoverySpans(bases, wal);
    expect(spans.map((s) => [s.base.id, s.earliest, s.latest])).toEqual([
      ['a', '2026-12-01T00:00:02Z', '2026-12-01T02:00:00Z'],
      ['b', '2026-12-02T00:00:05Z', '2026-12-02T03:00:00Z'],
    ]);
    expect(restoreWindow(spans)).toEqual({
      earliest: '2026-12-01T00:00:02Z',
      latest: '2026-12-02T03:00:00Z',
    });
    expect(restoreWindow([])).toEqual({ earliest: null, latest: null });
    // Without its backup history file (end unknown) or not verified: no span.
    expect(
      recoverySpans(
        [base('x', '2026-12-01T00:00:00Z', 2, null), base('y', '2026-12-01T00:00:00Z', 2, 3, 'failed')],
        wal,
      ),
    ).toEqual([]);
  });

  it('plans from the newest span holding the instant, with the WAL up to the first file closed after it', () => {
    const spans = recoverySpans(bases, wal);
    const p = planRestore(spans, new Date('2026-12-01T00:30:00Z'));
    expect(p?.base.id).toBe('a');
    expect(p?.segments.map((f) => f.name.slice(-1))).toEqual(['2', '3', '4']);
    expect(planRestore(spans, new Date('2026-12-02T01:00:00Z'))?.base.id).toBe('b');
    // In the gap (file 6 lost) and before the first backup ended: nothing.
    expect(planRestore(spans, new Date('2026-12-01T12:00:00Z'))).toBe(null);
    expect(planRestore(spans, new Date('2026-12-01T00:00:01Z'))).toBe(null);
  });

  it('lists the window as disjoint ranges: a gap in the WAL splits it, overlapping spans merge', () => {
    const spans = recoverySpans(bases, wal);
    expect(restoreRanges(spans)).toEqual([
      { earliest: '2026-12-01T00:00:02Z', latest: '2026-12-01T02:00:00Z' },
      { earliest: '2026-12-02T00:00:05Z', latest: '2026-12-02T03:00:00Z' },
    ]);
    // A second base backup inside a's chain (files 4–5) overlaps it: one range.
    const inside = base('a2', '2026-12-01T00:30:00Z', 4, 4);
    expect(restoreRanges(recoverySpans([bases[0], inside], wal))).toEqual([
      { earliest: '2026-12-01T00:00:02Z', latest: '2026-12-01T02:00:00Z' },
    ]);
    expect(restoreRanges([])).toEqual([]);
  });

  it('extends the chain with a tail of the segment after its last file, and only then', () => {
    const tail = {
      ...seg(9, '2026-12-02T03:00:07Z'),
      key: 'wal/s/e/tail/x.gz',
      segmentBytes: 16 * 1024 ** 2,
    };
    const spans = recoverySpans(bases, wal, { tail, caughtUp: null });
    expect(spans[1].latest).toBe('2026-12-02T03:00:07Z');
    expect(spans[1].segments.at(-1)).toBe(tail);
    // Three seconds after file 8 closed: the tail is replayed too.
    const p = planRestore(spans, new Date('2026-12-02T03:00:03Z'));
    expect(p?.segments.map((f) => f.name.slice(-1))).toEqual(['7', '8', '9']);
    // A tail not right after the chain (file 9 of another base's chain, or a gap) extends nothing.
    const far = { ...tail, name: seg(10, tail.closedAt).name };
    expect(recoverySpans(bases, wal, { tail: far, caughtUp: null })[1].latest).toBe('2026-12-02T03:00:00Z');
    expect(recoverySpans(bases, wal, { tail, caughtUp: null })[0].latest).toBe('2026-12-01T02:00:00Z');
  });

  it('moves the latest instant to a caught-up pass only on the chain ending in the segment it found current', () => {
    const tail = { ...seg(9, '2026-12-02T03:00:07Z'), segmentBytes: 16 * 1024 ** 2 };
    const at = '2026-12-02T05:00:00Z';
    const withTail = recoverySpans(bases, wal, { tail, caughtUp: { segment: tail.name, at } });
    expect(withTail[1].latest).toBe(at);
    expect(planRestore(withTail, new Date('2026-12-02T04:00:00Z'))?.segments.at(-1)).toBe(tail);
    // An idle database whose current segment is archived whole.
    const idle = recoverySpans(bases, wal, { tail: null, caughtUp: { segment: seg(8, at).name, at } });
    expect(idle[1].latest).toBe(at);
    // Current segment 9 but no tail of it stored: the archive does not hold it, nothing moves.
    const behind = recoverySpans(bases, wal, { tail: null, caughtUp: { segment: tail.name, at } });
    expect(behind[1].latest).toBe('2026-12-02T03:00:00Z');
    // An older pass never moves it back.
    const old = recoverySpans(bases, wal, {
      tail,
      caughtUp: { segment: tail.name, at: '2026-12-01T00:00:00Z' },
    });
    expect(old[1].latest).toBe(tail.closedAt);
  });

  it('prunes what the window no longer needs: older base backups and the WAL before the oldest kept one', () => {
    const gone = prunable(bases, wal, 1, new Date('2026-12-03T00:00:06Z'));
    // Cutoff 2026-12-02T00:00:06Z: b covers it, so a and the WAL before b's start go.
    expect(gone.bases.map((b) => b.id)).toEqual(['a']);
    expect(gone.wal.map((f) => f.name.slice(-1))).toEqual(['2', '3', '4', '5']);
    // A window reaching before every backup keeps everything.
    expect(prunable(bases, wal, 7, new Date('2026-12-03T00:00:06Z'))).toEqual({ bases: [], wal: [] });
    // No usable backup: nothing is pruned.
    expect(
      prunable([base('x', '2026-11-01T00:00:00Z', 2, null)], wal, 1, new Date('2026-12-09T00:00:00Z')),
    ).toEqual({
      bases: [],
      wal: [],
    });
  });
});

describe('defaultBaseBackupCron', () => {
  it('gives each database its own minute in the 03:00 UTC hour, the same one every time', () => {
    const crons = Array.from({ length: 40 }, (_, i) =>
      defaultBaseBackupCron({ serviceId: `s${i}`, environmentId: 'e' }),
    );
    for (const c of crons) expect(c).toMatch(/^([1-9]|[1-5]\d) 3 \* \* \*$/);
    expect(new Set(crons).size).toBeGreaterThan(20);
    expect(defaultBaseBackupCron({ serviceId: 's1', environmentId: 'e' })).toBe(crons[1]);
  });
});
