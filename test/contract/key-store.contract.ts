/** The KeyStore contract: every backend must pass it. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { newKey, type TaskBackend } from './fixtures.js';

export function keyStoreContract(name: string, open: () => Promise<TaskBackend>): void {
  describe(`KeyStore contract: ${name}`, () => {
    let backend: TaskBackend;
    beforeEach(async () => {
      backend = await open();
    });
    afterEach(async () => {
      await backend.close();
    });

    it('finds a key by access key and by secret, revoked or not', async () => {
      const key = newKey();
      await backend.keys.create(key);
      assert.deepEqual(await backend.keys.find(key.accessKey), key);
      assert.deepEqual(await backend.keys.findBySecret(key.secretKey), key);
      assert.equal(await backend.keys.find('unknown'), null);
      assert.equal(await backend.keys.findBySecret('unknown'), null);
      assert.equal(await backend.keys.findBySecret(key.accessKey), null);
      assert.equal(await backend.keys.find(key.secretKey), null);

      const at = Date.now();
      assert.equal(await backend.keys.revoke(key.accessKey, at), true);
      assert.equal(await backend.keys.revoke(key.accessKey, at + 1), false);
      assert.equal(await backend.keys.revoke('unknown', at), false);
      assert.deepEqual(await backend.keys.find(key.accessKey), { ...key, revokedAt: at });
      assert.deepEqual(await backend.keys.findBySecret(key.secretKey), { ...key, revokedAt: at });
    });

    it('lists every key, oldest first, and refuses a duplicate access key', async () => {
      const first = newKey();
      const second = newKey({ accountId: 'acct_b' });
      await backend.keys.create(first);
      await backend.keys.create(second);
      await backend.keys.revoke(first.accessKey, 123);
      assert.deepEqual(await backend.keys.list(), [{ ...first, revokedAt: 123 }, second]);
      await assert.rejects(backend.keys.create({ ...newKey(), accessKey: first.accessKey }));
      assert.equal((await backend.keys.list()).length, 2);
    });

    it("signs an account's callbacks with its newest live key's webhook secret", async () => {
      assert.equal(await backend.keys.webhookSecret('acct_a'), null);
      const older = newKey();
      const newer = newKey();
      const otherAccount = newKey({ accountId: 'acct_b' });
      await backend.keys.create(newer);
      await backend.keys.create(older); // inserted later, but created earlier
      await backend.keys.create(otherAccount);
      assert.equal(await backend.keys.webhookSecret('acct_a'), newer.webhookSecret);
      await backend.keys.revoke(newer.accessKey, Date.now());
      assert.equal(await backend.keys.webhookSecret('acct_a'), older.webhookSecret);
      await backend.keys.revoke(older.accessKey, Date.now());
      assert.equal(await backend.keys.webhookSecret('acct_a'), null);
      assert.equal(await backend.keys.webhookSecret('acct_b'), otherAccount.webhookSecret);
    });
  });
}
