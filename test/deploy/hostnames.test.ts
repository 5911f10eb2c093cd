import { describe, expect, it } from 'vitest';
import { publicHostname } from '../../src/deploy/hostnames.js';
import { previewName } from '../../src/git/branches.js';

describe('generated public hostnames', () => {
  it('names production and other environments apart', () => {
    expect(
      publicHostname({ project: 'Shop', environment: 'production', service: 'api', domain: 'Example.com' }),
    ).toBe('api-shop.example.com');
    expect(
      publicHostname({ project: 'shop', environment: 'staging', service: 'api', domain: 'localhost' }),
    ).toBe('api-shop-staging.localhost');
  });

  it('keeps a long preview host within a 63-character label, distinct per branch', () => {
    const host = (branch: string) =>
      publicHostname({
        project: 'storefront',
        environment: previewName(branch),
        service: 'checkout-api',
        domain: 'localhost',
      });
    const a = host('feature/a-very-long-branch-name-about-the-new-checkout-flow-part-one');
    const b = host('feature/a-very-long-branch-name-about-the-new-checkout-flow-part-two');
    for (const h of [a, b]) {
      const label = h.split('.')[0] ?? '';
      expect(label.length).toBeLessThanOrEqual(63);
      expect(label).toMatch(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/);
    }
    expect(a).not.toBe(b);
  });
});
