import { describe, expect, it } from 'vitest';
import { SecretBox } from '../../src/store/secret-box.js';
import { rawRow, tempStores } from '../helpers/store.js';

const openStore = tempStores();

const cert = (hostname: string, notAfter = '2030-01-01T00:00:00.000Z') => ({
  hostname,
  source: 'file' as const,
  certPem: `-----BEGIN CERTIFICATE-----\n${hostname}\n`,
  keyPem: `-----BEGIN PRIVATE KEY-----\nkey of ${hostname}\n`,
  notAfter,
});

describe('store.certificates', () => {
  it('saves a certificate with its key sealed to the host name, and replaces it', () => {
    const store = openStore();
    store.certificates.save(cert('a.example.com'));
    expect(store.certificates.find('a.example.com')).toEqual(cert('a.example.com'));
    const raw = String(
      rawRow(store, 'SELECT key_pem FROM certificates WHERE hostname = ?', 'a.example.com').key_pem,
    );
    expect(SecretBox.isSealed(raw)).toBe(true);
    expect(raw).not.toContain('key of');
    store.certificates.save({ ...cert('a.example.com', '2031-01-01T00:00:00.000Z'), source: 'acme' });
    expect(store.certificates.findInfo('a.example.com')).toMatchObject({
      source: 'acme',
      notAfter: '2031-01-01T00:00:00.000Z',
    });
    expect(store.certificates.find('b.example.com')).toBeNull();
    expect(store.certificates.findInfo('b.example.com')).toBeNull();
  });

  it('lists host names and deletes a certificate with its attempt', () => {
    const store = openStore();
    store.certificates.save(cert('a.example.com'));
    store.certificates.save(cert('b.example.com'));
    store.certificates.setAttempt('a.example.com', 'issued', null);
    expect(store.certificates.hostnames().sort()).toEqual(['a.example.com', 'b.example.com']);
    store.certificates.delete('a.example.com');
    expect(store.certificates.hostnames()).toEqual(['b.example.com']);
    expect(store.certificates.findAttempt('a.example.com')).toBeNull();
  });

  it('keeps the last issuance attempt per host name', () => {
    const store = openStore();
    expect(store.certificates.findAttempt('a.example.com')).toBeNull();
    store.certificates.setAttempt('a.example.com', 'pending', null);
    store.certificates.setAttempt('a.example.com', 'failed', 'DNS does not point here');
    expect(store.certificates.findAttempt('a.example.com')).toMatchObject({
      status: 'failed',
      error: 'DNS does not point here',
    });
  });
});
