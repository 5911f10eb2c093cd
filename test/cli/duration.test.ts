import { describe, expect, it } from 'vitest';
import { parseDurationSeconds } from '../../src/cli/duration.js';

describe('parseDurationSeconds (berth db sleep --after)', () => {
  it('reads seconds, minutes, hours and days; a plain number is seconds', () => {
    expect(['2s', '10m', '2h', '1d', '45', ' 5M '].map(parseDurationSeconds)).toEqual([
      2, 600, 7200, 86_400, 45, 300,
    ]);
  });

  it('refuses what is not a positive whole duration', () => {
    expect(['', '0s', '1.5m', '-3s', '10x', 'm'].map(parseDurationSeconds)).toEqual([
      null,
      null,
      null,
      null,
      null,
      null,
    ]);
  });
});
