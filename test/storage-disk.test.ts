import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { DiskBlobStore, FileSecretStore, InvalidBlobKeyError, MemoryRateCounter } from '../src/storage/local/index.js';
import { BAD_BLOB_KEYS, blobStoreContract } from './contract/blob-store.contract.js';
import { rateCounterContract } from './contract/rate-counter.contract.js';
import { secretStoreContract } from './contract/secret-store.contract.js';
import { tempDir } from './support/tmp.js';

secretStoreContract('FileSecretStore', async () => {
  const dir = await tempDir('outpaint-secrets-');
  return { store: new FileSecretStore(dir.path), reopen: async () => new FileSecretStore(dir.path), close: dir.remove };
});

rateCounterContract('MemoryRateCounter', async () => ({ counter: new MemoryRateCounter(), close: async () => {} }));

describe('FileSecretStore on disk', () => {
  it('keeps a secret as <name>.key, hex, readable by its owner only', async () => {
    const dir = await tempDir('outpaint-secrets-');
    try {
      const secret = await new FileSecretStore(dir.path).getOrCreate('url-signing', () => Buffer.alloc(32, 7));
      const file = path.join(dir.path, 'url-signing.key');
      assert.equal((await fs.readFile(file, 'utf8')).trim(), secret.toString('hex'));
      assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
      assert.deepEqual(await fs.readdir(dir.path), ['url-signing.key']);
    } finally {
      await dir.remove();
    }
  });
});

blobStoreContract('DiskBlobStore', async () => {
  const dir = await tempDir('outpaint-blobs-');
  const blobs = new DiskBlobStore(dir.path);
  return {
    blobs,
    async close() {
      await blobs.close();
      await dir.remove();
    },
  };
});

describe('DiskBlobStore on disk', () => {
  const dirs: { remove(): Promise<void> }[] = [];
  after(async () => {
    await Promise.all(dirs.map((d) => d.remove()));
  });
  async function fresh() {
    const dir = await tempDir('outpaint-blobs-');
    dirs.push(dir);
    return { root: dir.path, blobs: new DiskBlobStore(dir.path) };
  }
  const png = { contentType: 'image/png', expiresAt: null };

  it('keeps the bytes in data/ and the metadata in a sidecar in meta/, no temp files left', async () => {
    const { root, blobs } = await fresh();
    await blobs.put('results/t1/0.png', Buffer.from('pixels'), { contentType: 'image/png', expiresAt: 1234 });
    assert.equal(await fs.readFile(path.join(root, 'data/results/t1/0.png'), 'utf8'), 'pixels');
    const sidecar = JSON.parse(await fs.readFile(path.join(root, 'meta/results/t1/0.png.json'), 'utf8'));
    assert.deepEqual(sidecar, { contentType: 'image/png', expiresAt: 1234 });
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
  });

  it('does not confuse a key ending in .json with a sidecar', async () => {
    const { blobs } = await fresh();
    await blobs.put('x', Buffer.from('plain'), png);
    await blobs.put('x.json', Buffer.from('{"looks":"like a sidecar"}'), { contentType: 'application/json', expiresAt: null });
    assert.equal((await blobs.get('x'))?.data.toString(), 'plain');
    assert.equal((await blobs.get('x'))?.contentType, 'image/png');
    assert.equal((await blobs.get('x.json'))?.contentType, 'application/json');
  });

  it('throws InvalidBlobKeyError for bad keys, before touching the disk', async () => {
    const { root, blobs } = await fresh();
    for (const key of BAD_BLOB_KEYS) {
      await assert.rejects(blobs.put(key, Buffer.from('x'), png), InvalidBlobKeyError);
    }
    assert.deepEqual(await fs.readdir(root), []);
    await assert.rejects(fs.access(path.join(root, '..', 'outside')));
  });

  it('treats a blob whose sidecar is missing (a put cut short) as absent, and sweeps it once old', async () => {
    const { root, blobs } = await fresh();
    await blobs.put('cut/short.png', Buffer.from('x'), png);
    await fs.unlink(path.join(root, 'meta/cut/short.png.json'));
    assert.equal(await blobs.get('cut/short.png'), null);
    await fs.writeFile(path.join(root, 'tmp', 'left-over.tmp'), 'partial');
    // Young leftovers may belong to a put in progress: kept.
    assert.equal(await blobs.sweepExpired(Date.now()), 0);
    await fs.access(path.join(root, 'data/cut/short.png'));
    await fs.access(path.join(root, 'tmp/left-over.tmp'));
    // Two hours later they are orphans; they are not counted as expired blobs.
    assert.equal(await blobs.sweepExpired(Date.now() + 2 * 3_600_000), 0);
    await assert.rejects(fs.access(path.join(root, 'data/cut/short.png')));
    await assert.rejects(fs.access(path.join(root, 'tmp/left-over.tmp')));
  });

  it('deletes the sidecar with the blob when sweeping', async () => {
    const { root, blobs } = await fresh();
    await blobs.put('gone.png', Buffer.from('x'), { contentType: 'image/png', expiresAt: 10 });
    assert.equal(await blobs.sweepExpired(11), 1);
    await assert.rejects(fs.access(path.join(root, 'meta/gone.png.json')));
    await assert.rejects(fs.access(path.join(root, 'data/gone.png')));
  });

  it('fails a put that cannot be placed without leaving a readable half', async () => {
    const { root, blobs } = await fresh();
    await blobs.put('clash', Buffer.from('file'), png);
    // "clash" is a file, so "clash/inner" cannot be a file below it.
    await assert.rejects(blobs.put('clash/inner', Buffer.from('x'), png));
    assert.equal(await blobs.get('clash/inner'), null);
    assert.equal((await blobs.get('clash'))?.data.toString(), 'file');
    assert.deepEqual(await fs.readdir(path.join(root, 'tmp')), []);
  });
});
