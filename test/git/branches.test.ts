import { describe, expect, it } from 'vitest';
import { previewName } from '../../src/git/branches.js';
import { KeyedLock } from '../../src/lib/keyed-lock.js';

describe('preview environment names', () => {
  it('turns a branch into a DNS label prefixed br-', () => {
    expect(previewName('feature')).toBe('br-feature');
    expect(previewName('Feature/Login_Page')).toBe('br-feature-login-page');
    expect(previewName('--weird..name--')).toBe('br-weird-name');
    expect(previewName('///')).toBe('br-branch');
    expect(previewName('7', 'pr-')).toBe('pr-7');
  });

  it('cuts long branches to 63 characters with a hash that tells them apart', () => {
    const a = previewName(`feature/${'x'.repeat(80)}-a`);
    const b = previewName(`feature/${'x'.repeat(80)}-b`);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^br-feature-x+-[0-9a-f]{8}$/);
    expect(a).not.toBe(b);
  });
});

describe('KeyedLock', () => {
  it('runs tasks of one key in submission order, other keys alongside, past failures', async () => {
    const lock = new KeyedLock();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const first = lock.run('a', async () => {
      await gate;
      order.push('a1');
      throw new Error('a1 failed');
    });
    const second = lock.run('a', async () => {
      order.push('a2');
    });
    const other = lock.run('b', async () => {
      order.push('b1');
    });
    await other;
    expect(order).toEqual(['b1']);
    release();
    await expect(first).rejects.toThrow('a1 failed');
    await second;
    expect(order).toEqual(['b1', 'a1', 'a2']);
  });
});
