/**
 * The S3 BlobStore against a real S3-protocol server (s3rver on loopback): the BlobStore contract
 * unchanged, each test in a bucket of its own that is emptied and removed after, then what is S3's own.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeleteBucketCommand, HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { InvalidBlobKeyError } from '../src/storage/index.js';
import { createS3Client, openS3BlobStore, S3BlobStore } from '../src/storage/s3/index.js';
import { BAD_BLOB_KEYS, blobStoreContract } from './contract/blob-store.contract.js';
import { S3_REGION, S3RVER_CREDENTIALS, startS3Server, type S3TestServer } from './support/s3-server.js';
import { presignedSignatureIsValid } from './support/sigv4.js';

let s3: S3TestServer;
before(async () => {
  s3 = await startS3Server();
  // The store's client resolves region and credentials through the SDK's default chain, as in production.
  process.env.AWS_REGION = S3_REGION;
  process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
});
after(async () => {
  await s3.close();
});

function settings(bucket: string, prefix = '') {
  return { bucket, endpoint: s3.endpoint, forcePathStyle: true, prefix, resultLinks: 'proxied' as const };
}

/** Empties a bucket and deletes it. */
async function removeBucket(bucket: string): Promise<void> {
  const client = s3.client();
  try {
    const store = new S3BlobStore({ client: s3.client(), bucket });
    await store.sweepExpired(Number.MAX_SAFE_INTEGER);
    const left = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    for (const o of left.Contents ?? []) await store.delete(o.Key!);
    await store.close();
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

blobStoreContract('S3BlobStore (s3rver)', async () => {
  const bucket = await s3.createBucket();
  const blobs = await openS3BlobStore(settings(bucket));
  return {
    blobs,
    async close() {
      await blobs.close();
      await removeBucket(bucket);
    },
  };
});

blobStoreContract('S3BlobStore with a key prefix (s3rver)', async () => {
  const bucket = await s3.createBucket();
  const blobs = await openS3BlobStore(settings(bucket, 'tenant-a/outpaint/'));
  return {
    blobs,
    async close() {
      await blobs.close();
      await removeBucket(bucket);
    },
  };
});

describe('S3BlobStore on S3', () => {
  it('keeps the content type, the Expires header and the exact expiry as object metadata, under the prefix', async () => {
    const bucket = await s3.createBucket();
    const blobs = await openS3BlobStore(settings(bucket, 'p/'));
    const client = s3.client();
    try {
      const expiresAt = Date.now() + 86_400_000 + 123;
      await blobs.put('results/t1/0.png', Buffer.from('pixels'), { contentType: 'image/png', expiresAt });
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'p/results/t1/0.png' }));
      assert.equal(head.ContentType, 'image/png');
      assert.equal(head.Metadata?.['outpaint-expires-at'], String(expiresAt));
      assert.equal(head.Expires?.getTime(), Math.floor(expiresAt / 1000) * 1000);
      const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.deepEqual(listed.Contents?.map((o) => o.Key), ['p/results/t1/0.png']);
    } finally {
      client.destroy();
      await blobs.close();
      await removeBucket(bucket);
    }
  });

  it('sweeps only its own prefix, over more than one listing page and one DeleteObjects batch', async () => {
    const bucket = await s3.createBucket();
    const blobs = await openS3BlobStore(settings(bucket, 'mine/'));
    const client = s3.client();
    try {
      const now = Date.now();
      const count = 1100; // > 1000: two ListObjectsV2 pages, two DeleteObjects requests
      const keys = Array.from({ length: count }, (_, i) => `x/${String(i).padStart(5, '0')}`);
      for (let i = 0; i < keys.length; i += 50) {
        await Promise.all(
          keys.slice(i, i + 50).map((k, j) =>
            blobs.put(k, Buffer.from('.'), { contentType: 'image/png', expiresAt: (i + j) % 11 === 0 ? now + 60_000 : now - 1 }),
          ),
        );
      }
      // Someone else's object in the same bucket, no Outpaint metadata: never touched.
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: 'other/keep.png', Body: 'x' }));
      const live = keys.filter((_, i) => i % 11 === 0).length;
      assert.equal(await blobs.sweepExpired(now), count - live);
      assert.equal(await blobs.sweepExpired(now), 0);
      let left = 0;
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        left += page.KeyCount ?? 0;
        token = page.NextContinuationToken;
      } while (token);
      assert.equal(left, live + 1);
      assert.equal((await blobs.get('x/00000'))?.data.toString(), '.');
    } finally {
      client.destroy();
      await blobs.close();
      await removeBucket(bucket);
    }
  });

  it('throws InvalidBlobKeyError before sending anything, and refuses a bad prefix', async () => {
    const bucket = await s3.createBucket();
    const blobs = await openS3BlobStore(settings(bucket));
    try {
      for (const key of BAD_BLOB_KEYS) {
        await assert.rejects(blobs.put(key, Buffer.from('x'), { contentType: 'image/png', expiresAt: null }), InvalidBlobKeyError);
      }
      const listed = await s3.client().send(new ListObjectsV2Command({ Bucket: bucket }));
      assert.equal(listed.KeyCount, 0);
      assert.throws(() => new S3BlobStore({ client: createS3Client(settings(bucket)), bucket, prefix: '../x/' }), InvalidBlobKeyError);
      assert.throws(() => new S3BlobStore({ client: createS3Client(settings(bucket)), bucket, prefix: 'no-slash' }), /must end with/);
    } finally {
      await blobs.close();
      await removeBucket(bucket);
    }
  });

  it('presigns GET links valid until the blob expires, capped at 7 days, that s3rver checks', async () => {
    const bucket = await s3.createBucket();
    const store = await openS3BlobStore(settings(bucket, 'p/'));
    try {
      const links = await store.presignedLinks();
      assert.equal(links.origin, s3.endpoint);
      assert.equal(links.maxValidityMs, 7 * 86_400_000);
      const data = Buffer.from('a result');
      const expiresAt = Date.now() + 30 * 86_400_000;
      await store.put('results/t/0.png', data, { contentType: 'image/png', expiresAt });
      await store.put('inputs/t', Buffer.from('an input'), { contentType: 'image/png', expiresAt });
      const far = new URL(await links.link('results/t/0.png', expiresAt));
      assert.equal(far.pathname, `/${bucket}/p/results/t/0.png`);
      assert.equal(far.searchParams.get('X-Amz-Algorithm'), 'AWS4-HMAC-SHA256');
      assert.equal(far.searchParams.get('X-Amz-Expires'), '604800', '30 days away: capped at 7');
      const res = await fetch(far);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'image/png');
      assert.ok(Buffer.from(await res.arrayBuffer()).equals(data));

      const soon = new URL(await links.link('results/t/0.png', Date.now() + 90_500));
      assert.ok(Math.abs(Number(soon.searchParams.get('X-Amz-Expires')) - 91) <= 1, soon.searchParams.get('X-Amz-Expires')!);
      // The signature is SigV4's for this GET (s3rver does not compute SigV4, test/support/sigv4.ts does)
      // and covers the path: a link altered to reach another object is not validly signed.
      assert.ok(presignedSignatureIsValid(far, S3RVER_CREDENTIALS.secretAccessKey));
      assert.ok(presignedSignatureIsValid(soon, S3RVER_CREDENTIALS.secretAccessKey));
      assert.ok(!presignedSignatureIsValid(far, 'another secret'));
      const forged = new URL(far);
      forged.pathname = `/${bucket}/p/inputs/t`;
      assert.ok(!presignedSignatureIsValid(forged, S3RVER_CREDENTIALS.secretAccessKey));
      // And it ends when it says.
      const brief = await links.link('results/t/0.png', Date.now() + 1000);
      assert.equal((await fetch(brief)).status, 200);
      await new Promise((r) => setTimeout(r, 2100));
      assert.equal((await fetch(brief)).status, 403);
      await assert.rejects(links.link('../x', expiresAt), InvalidBlobKeyError);
    } finally {
      await store.close();
      await removeBucket(bucket);
    }
  });

  it('names the bucket and the reason when it cannot be reached at start', async () => {
    await assert.rejects(openS3BlobStore(settings('no-such-bucket-here')), /S3 bucket no-such-bucket-here \(http:\/\/127\.0\.0\.1:\d+\): no such bucket/);
  });
});
