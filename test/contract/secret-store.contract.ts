/**
 * The SecretStore contract: every implementation must pass it. `open` gives a handle on a fresh, empty
 * store and `reopen` another handle on the same data (another node, or the next start).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { SecretStore } from '../../src/storage/secret-store.js';

export interface SecretStoreUnderTest {
  store: SecretStore;
  reopen(): Promise<SecretStore>;
  close(): Promise<void>;
}

export function secretStoreContract(name: string, open: () => Promise<SecretStoreUnderTest>): void {
  describe(`SecretStore contract: ${name}`, () => {
    let subject: SecretStoreUnderTest;
    beforeEach(async () => {
      subject = await open();
    });
    afterEach(async () => {
      await subject.close();
    });

    it('creates a secret on first use and returns the same one afterwards, also to another handle', async () => {
      let made = 0;
      const create = () => (made++, randomBytes(32));
      const first = await subject.store.getOrCreate('url-signing', create);
      assert.equal(first.length, 32);
      assert.deepEqual(await subject.store.getOrCreate('url-signing', create), first);
      assert.deepEqual(await (await subject.reopen()).getOrCreate('url-signing', create), first);
      assert.equal(made, 1);
    });

    it('keeps secrets of different names apart', async () => {
      const a = await subject.store.getOrCreate('a', () => Buffer.alloc(32, 1));
      const b = await subject.store.getOrCreate('b', () => Buffer.alloc(32, 2));
      assert.notDeepEqual(a, b);
    });

    it('gives every racer the one secret that was stored first', async () => {
      const others = await Promise.all(Array.from({ length: 4 }, () => subject.reopen()));
      const got = await Promise.all(
        [subject.store, ...others].map((s, i) => s.getOrCreate('raced', () => Buffer.alloc(32, i + 1))),
      );
      for (const g of got) assert.deepEqual(g, got[0]);
    });
  });
}
