/**
 * Result links: the API's own (stable, so views of finished tasks are kept) and presigned ones made by
 * the S3 store (signed locally, so no server is needed here), reused for an hour rather than signed
 * on every read of a task.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Client } from '@aws-sdk/client-s3';
import type { BlobLinks } from '../src/storage/blob-store.js';
import { S3BlobStore } from '../src/storage/s3/index.js';
import { apiResultLinks, blobStoreResultLinks, createResultUrlSigner, PRESIGNED_REUSE_MS } from '../src/tasks/result-urls.js';
import { presignedSignatureIsValid } from './support/sigv4.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

function s3Links(): BlobLinks & { made: number } {
  const client = new S3Client({ endpoint: 'http://127.0.0.1:9', region: 'eu-west-1', forcePathStyle: true, credentials });
  const store = new S3BlobStore({ client, bucket: 'outpaint', prefix: 'o/' });
  const counted = { made: 0 } as BlobLinks & { made: number };
  return Object.assign(counted, {
    maxValidityMs: 7 * 86_400_000,
    origin: 'http://127.0.0.1:9',
    link: async (key: string, expiresAt: number) => {
      counted.made++;
      return (await store.presignedLinks()).link(key, expiresAt);
    },
  });
}

describe('result links', () => {
  it("the API's links are stable and point at the file route", async () => {
    const links = apiResultLinks(createResultUrlSigner({ publicUrl: 'https://op.example', secret: Buffer.alloc(32, 1), ttlMs: 1000 }));
    assert.equal(links.stable, true);
    assert.equal(links.foreignOrigin, null);
    const url = await links.link('results/t/0.png', 2_000_000_000_000);
    assert.match(url, /^https:\/\/op\.example\/v1\/files\/results\/t\/0\.png\?expires=2000000000&signature=/);
  });

  it('presigned links are not stable, name their origin, and are reused for an hour, then made again', async () => {
    const store = s3Links();
    let clock = Date.now();
    const links = blobStoreResultLinks(store, 86_400_000, () => clock);
    assert.equal(links.stable, false);
    assert.equal(links.foreignOrigin, 'http://127.0.0.1:9');
    const expiresAt = Date.now() + 3 * 86_400_000;
    const first = await links.link('results/t/0.png', expiresAt);
    assert.ok(presignedSignatureIsValid(first, credentials.secretAccessKey));
    assert.equal(new URL(first).pathname, '/outpaint/o/results/t/0.png');
    clock += PRESIGNED_REUSE_MS - 1000;
    assert.equal(await links.link('results/t/0.png', expiresAt), first);
    assert.equal(store.made, 1, 'one signing for repeated reads');
    // Another key or another expiry is its own link.
    await links.link('results/t/1.png', expiresAt);
    await links.link('results/t/0.png', expiresAt + 1000);
    assert.equal(store.made, 3);
    clock += 2000;
    const again = await links.link('results/t/0.png', expiresAt);
    assert.equal(store.made, 4, 'signed again after an hour');
    assert.ok(presignedSignatureIsValid(again, credentials.secretAccessKey));
  });
});
