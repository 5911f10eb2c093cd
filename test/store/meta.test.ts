import { describe, expect, it } from 'vitest';
import { tempStores } from '../helpers/store.js';

const openStore = tempStores();

describe('store.meta', () => {
  it('finds null for an unset key and replaces a set one', () => {
    const store = openStore();
    expect(store.meta.find('private_net')).toBeNull();
    store.meta.set('private_net', '127.77');
    store.meta.set('private_net', '127.78');
    expect(store.meta.find('private_net')).toBe('127.78');
    // Written when the store was opened: the check that the master key is the right one.
    expect(store.meta.find('key_check')).not.toBeNull();
  });
});
