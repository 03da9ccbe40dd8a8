/** The BlobStore contract: the local disk store today, S3 later. `open` returns a fresh, empty store. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { BlobStore } from '../../src/storage/blob-store.js';

export interface BlobBackend {
  blobs: BlobStore;
  /** Closes the store and removes whatever the test left. */
  close(): Promise<void>;
}

export const BAD_BLOB_KEYS = [
  '',
  '/etc/passwd',
  '../outside',
  'a/../../outside',
  'a/..',
  './a',
  'a//b',
  'a/',
  'a\\b',
  'a b',
  'ünïcode',
  'a:b',
  '%2e%2e/x',
];

export function blobStoreContract(name: string, open: () => Promise<BlobBackend>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let backend: BlobBackend;
    let blobs: BlobStore;
    beforeEach(async () => {
      backend = await open();
      blobs = backend.blobs;
    });
    afterEach(async () => {
      await backend.close();
    });

    const png = { contentType: 'image/png', expiresAt: null };

    it('checks it can write, leaving no blob behind', async () => {
      await blobs.checkWritable();
      await blobs.checkWritable();
      assert.equal(await blobs.sweepExpired(Date.now() + 10 ** 12), 0, 'nothing stored');
    });

    it('reads back what was put: bytes, content type, expiry', async () => {
      const data = randomBytes(100_000);
      const expiresAt = Date.now() + 3_600_000;
      await blobs.put('results/task_1/0.png', data, { contentType: 'image/png', expiresAt });
      const blob = await blobs.get('results/task_1/0.png');
      assert.ok(blob);
      assert.ok(Buffer.isBuffer(blob.data));
      assert.ok(blob.data.equals(data));
      assert.equal(blob.contentType, 'image/png');
      assert.equal(blob.expiresAt, expiresAt);
    });

    it('keeps an empty blob, and a blob with no expiry', async () => {
      await blobs.put('empty', new Uint8Array(0), { contentType: 'application/octet-stream', expiresAt: null });
      const blob = await blobs.get('empty');
      assert.equal(blob?.data.length, 0);
      assert.equal(blob?.expiresAt, null);
    });

    it('returns null for a missing key', async () => {
      assert.equal(await blobs.get('never/put.png'), null);
    });

    it('replaces a blob put again under the same key', async () => {
      await blobs.put('k.png', Buffer.from('first'), png);
      await blobs.put('k.png', Buffer.from('second'), { contentType: 'image/jpeg', expiresAt: null });
      const blob = await blobs.get('k.png');
      assert.equal(blob?.data.toString(), 'second');
      assert.equal(blob?.contentType, 'image/jpeg');
    });

    it('hides expired blobs from readers', async () => {
      await blobs.put('old.png', Buffer.from('x'), { contentType: 'image/png', expiresAt: Date.now() - 1 });
      await blobs.put('fresh.png', Buffer.from('y'), { contentType: 'image/png', expiresAt: Date.now() + 60_000 });
      assert.equal(await blobs.get('old.png'), null);
      assert.equal((await blobs.get('fresh.png'))?.data.toString(), 'y');
    });

    it('deletes, and deleting a missing blob is fine', async () => {
      await blobs.put('a/b/c.png', Buffer.from('x'), png);
      await blobs.delete('a/b/c.png');
      assert.equal(await blobs.get('a/b/c.png'), null);
      await blobs.delete('a/b/c.png');
      await blobs.delete('never/there');
    });

    it('sweeps exactly the blobs expired at `now`', async () => {
      const now = Date.now() + 10 * 86_400_000;
      await blobs.put('s/expired-1', Buffer.from('1'), { contentType: 'image/png', expiresAt: now - 1000 });
      await blobs.put('s/deep/expired-2', Buffer.from('2'), { contentType: 'image/png', expiresAt: now });
      await blobs.put('s/later', Buffer.from('3'), { contentType: 'image/png', expiresAt: now + 1 });
      await blobs.put('s/forever', Buffer.from('4'), png);
      assert.equal(await blobs.sweepExpired(now - 1001), 0);
      assert.equal(await blobs.sweepExpired(now), 2);
      assert.equal(await blobs.sweepExpired(now), 0);
      // Swept blobs are gone even for a reader whose clock says they are not yet expired.
      assert.equal(await blobs.get('s/expired-1'), null);
      assert.equal(await blobs.get('s/deep/expired-2'), null);
      assert.equal((await blobs.get('s/later'))?.data.toString(), '3');
      assert.equal((await blobs.get('s/forever'))?.data.toString(), '4');
      // A blob put again after being swept is there.
      await blobs.put('s/expired-1', Buffer.from('again'), png);
      assert.equal((await blobs.get('s/expired-1'))?.data.toString(), 'again');
    });

    it('sweeps an empty store', async () => {
      assert.equal(await blobs.sweepExpired(Date.now()), 0);
    });

    it('refuses keys that are not relative [A-Za-z0-9._-] segments', async () => {
      for (const key of BAD_BLOB_KEYS) {
        await assert.rejects(blobs.put(key, Buffer.from('x'), png), `put ${JSON.stringify(key)}`);
        await assert.rejects(blobs.get(key), `get ${JSON.stringify(key)}`);
        await assert.rejects(blobs.delete(key), `delete ${JSON.stringify(key)}`);
      }
      // Dots are fine inside a segment.
      await blobs.put('v1.2/file..name-_.png', Buffer.from('ok'), png);
      assert.equal((await blobs.get('v1.2/file..name-_.png'))?.data.toString(), 'ok');
    });

    it('lets readers see a blob whole or not at all while it is written', async () => {
      const data = randomBytes(8 * 1024 * 1024);
      let writing = true;
      const put = blobs.put('big.bin', data, { contentType: 'application/octet-stream', expiresAt: null }).finally(() => {
        writing = false;
      });
      let reads = 0;
      while (writing) {
        const seen = await blobs.get('big.bin');
        reads++;
        if (seen !== null) assert.ok(seen.data.equals(data), 'a reader saw a partial blob');
      }
      await put;
      assert.ok(reads > 0);
      assert.ok((await blobs.get('big.bin'))?.data.equals(data));
    });

    it('keeps concurrent puts of different keys apart', async () => {
      const items = Array.from({ length: 20 }, (_, i) => ({ key: `many/${i}.png`, data: randomBytes(1000 + i) }));
      await Promise.all(items.map((item) => blobs.put(item.key, item.data, png)));
      for (const item of items) assert.ok((await blobs.get(item.key))?.data.equals(item.data));
    });
  });
}
