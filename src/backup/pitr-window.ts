/**
 * Which instants a database can be restored to, from its base backups and shipped WAL files (pure): each
 * usable base backup opens a span from the end of its backup to the last WAL file of an unbroken chain.
 */
import type { BaseBackupRecord, WalFileRecord } from '../core/pitr-model.js';
import { isSegment, nextPosition, positionOf } from './pitr-argv.js';

/** A base backup and the span it can recover to. */
export interface RecoverySpan {
  base: BaseBackupRecord;
  /** The end of the backup (its last WAL file closed): a recovery is consistent from here on. */
  earliest: string;
  /** The last WAL file of the unbroken chain from its start closed here. */
  latest: string;
  /** That chain, in WAL order. */
  segments: WalFileRecord[];
}

export interface RestoreWindow {
  earliest: string | null;
  latest: string | null;
}

/** Per WAL position the segment of the newest timeline (a restored database archives timeline 2 on). */
function segmentsByPosition(wal: readonly WalFileRecord[]): Map<string, WalFileRecord> {
  const byPosition = new Map<string, WalFileRecord>();
  for (const f of wal) {
    if (!isSegment(f.name)) continue;
    const p = positionOf(f.name);
    const had = byPosition.get(p);
    if (!had || had.name < f.name) byPosition.set(p, f);
  }
  return byPosition;
}

/**
 * What the archive holds beyond its finished WAL files: the tail of the segment being written (if shipped),
 * and the last instant a shipping pass found nothing newer than the archive — the segment then current and
 * when (held in memory by the shipper; an idle database's window reaches up to it).
 */
export interface ArchiveEdge {
  tail: WalFileRecord | null;
  caughtUp: { segment: string; at: string } | null;
}

/**
 * The span of every verified base backup whose WAL, from its start through its end, is all archived; the
 * tail extends a chain it directly follows, and a caught-up pass moves the latest instant of the chain that
 * ends in the segment it found current.
 */
export function recoverySpans(
  bases: readonly BaseBackupRecord[],
  wal: readonly WalFileRecord[],
  edge: ArchiveEdge = { tail: null, caughtUp: null },
): RecoverySpan[] {
  const byPosition = segmentsByPosition(wal);
  const spans: RecoverySpan[] = [];
  for (const base of bases) {
    if (base.status !== 'verified' || !base.startWal || !base.endWal) continue;
    const segments: WalFileRecord[] = [];
    let endFile: WalFileRecord | null = null;
    const endPosition = positionOf(base.endWal);
    for (let p = positionOf(base.startWal); byPosition.has(p); p = nextPosition(p)) {
      const f = byPosition.get(p) as WalFileRecord;
      segments.push(f);
      if (p === endPosition) endFile = f;
    }
    if (!endFile) continue;
    const last = segments[segments.length - 1];
    const { tail, caughtUp } = edge;
    if (tail && isSegment(tail.name) && positionOf(tail.name) === nextPosition(positionOf(last.name))) {
      segments.push(tail);
    }
    const end = segments[segments.length - 1];
    const reached = caughtUp?.segment === end.name && caughtUp.at > end.closedAt ? caughtUp.at : end.closedAt;
    spans.push({ base, earliest: endFile.closedAt, latest: reached, segments });
  }
  return spans;
}

export function restoreWindow(spans: readonly RecoverySpan[]): RestoreWindow {
  if (spans.length === 0) return { earliest: null, latest: null };
  return {
    // ISO times in UTC sort as strings.
    earliest: spans.map((s) => s.earliest).sort()[0],
    latest: spans.map((s) => s.latest).sort()[spans.length - 1],
  };
}

/**
 * The restorable instants as disjoint ranges, oldest first: spans that overlap or touch merge; a range ends
 * where WAL is missing (dropped at the spool's cap) until a later base backup opens the next one.
 */
export function restoreRanges(spans: readonly RecoverySpan[]): { earliest: string; latest: string }[] {
  const sorted = [...spans].sort((a, b) => (a.earliest < b.earliest ? -1 : 1));
  const ranges: { earliest: string; latest: string }[] = [];
  for (const s of sorted) {
    const last = ranges[ranges.length - 1];
    if (last && s.earliest <= last.latest) {
      if (s.latest > last.latest) last.latest = s.latest;
    } else {
      ranges.push({ earliest: s.earliest, latest: s.latest });
    }
  }
  return ranges;
}

/**
 * What a restore to `at` needs: the newest span holding it, and its WAL up to the first file closed at or
 * after `at` (later ones cannot change the state at `at`); null when no span holds it.
 */
export function planRestore(
  spans: readonly RecoverySpan[],
  at: Date,
): { base: BaseBackupRecord; segments: WalFileRecord[] } | null {
  const t = at.toISOString();
  const holding = spans.filter((s) => s.earliest <= t && t <= s.latest);
  const span = holding.sort((a, b) => (a.earliest < b.earliest ? 1 : -1))[0];
  if (!span) return null;
  const upTo = span.segments.findIndex((f) => f.closedAt >= t);
  return { base: span.base, segments: span.segments.slice(0, upTo < 0 ? undefined : upTo + 1) };
}

/**
 * Retention: what may leave the target so the window still reaches `windowDays` back. Kept: every base
 * backup from the newest usable one that ends before the cutoff (it covers the cutoff) on, or all from the
 * oldest usable one when none is that old, and the WAL from the oldest kept usable one's start. Running
 * backups are never pruned; without any usable backup, nothing is.
 */
export function prunable(
  bases: readonly BaseBackupRecord[],
  wal: readonly WalFileRecord[],
  windowDays: number,
  now: Date,
): { bases: BaseBackupRecord[]; wal: WalFileRecord[] } {
  const spans = recoverySpans(bases, wal);
  if (spans.length === 0) return { bases: [], wal: [] };
  const cutoff = new Date(now.getTime() - windowDays * 86_400_000).toISOString();
  const old = spans.filter((s) => s.earliest <= cutoff);
  const anchor = old.length > 0 ? old[old.length - 1] : spans[0];
  const from = anchor.base.createdAt;
  const startPosition = positionOf(anchor.base.startWal as string);
  return {
    bases: bases.filter(
      (b) =>
        b.status !== 'running' && (b.createdAt < from || (b.status === 'failed' && b.createdAt < cutoff)),
    ),
    wal: wal.filter((f) => /^[0-9A-F]{24}/.test(f.name) && positionOf(f.name) < startPosition),
  };
}
