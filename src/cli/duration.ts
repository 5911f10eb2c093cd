/** Durations users type (`--after 10m`): a whole number with s, m, h or d (plain numbers are seconds). */
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds, or null when text is not a duration like 90s, 10m, 2h, 1d. */
export function parseDurationSeconds(text: string): number | null {
  const m = /^(\d+)\s*([smhd]?)$/.exec(text.trim().toLowerCase());
  if (!m) return null;
  const n = Number(m[1]) * UNIT_SECONDS[m[2] || 's'];
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
