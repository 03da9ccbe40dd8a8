/**
 * Blobs as objects in an S3 bucket (AWS S3 or any S3-compatible server), under an optional key prefix:
 *   <prefix><key>   the bytes, with Content-Type, an `Expires` header and the exact expiry in the
 *                   user metadata `x-amz-meta-outpaint-expires-at` (Unix ms; absent: kept for ever)
 * A PUT is atomic on S3 (readers see the old object, the new one, or none), so no commit marker is needed.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { checkBlobKey } from '../blob-key.js';
import type { Blob, BlobLinks, BlobMeta, BlobStore } from '../blob-store.js';

/** User metadata names are lower-case on the wire; the SDK returns them without the x-amz-meta- prefix. */
const EXPIRES_AT = 'outpaint-expires-at';
/** DeleteObjects takes at most 1000 keys per request. */
const DELETE_BATCH = 1000;
/** HEAD requests in flight at once while sweeping (ListObjectsV2 does not return user metadata). */
const SWEEP_PARALLEL_HEADS = 16;
/** SigV4 presigned URLs are valid for at most 7 days (X-Amz-Expires ≤ 604800). */
export const PRESIGN_MAX_SECONDS = 7 * 86_400;

export interface S3BlobStoreOptions {
  client: S3Client;
  bucket: string;
  /** Put before every key, e.g. "outpaint/" to share a bucket; "" (default) for none. Ends with "/" when set. */
  prefix?: string;
}

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  readonly bucket: string;
  readonly prefix: string;

  constructor(options: S3BlobStoreOptions) {
    const prefix = options.prefix ?? '';
    if (prefix !== '') checkBlobKey(prefix.replace(/\/$/, ''));
    if (prefix !== '' && !prefix.endsWith('/')) throw new Error(`S3 key prefix ${JSON.stringify(prefix)} must end with "/"`);
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = prefix;
  }

  /** The object key of a blob key (checked first, so that no bad key reaches the bucket). */
  objectKey(key: string): string {
    checkBlobKey(key);
    return this.prefix + key;
  }

  async put(key: string, data: Uint8Array, meta: BlobMeta): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.objectKey(key),
        Body: data,
        ContentLength: data.byteLength,
        ContentType: meta.contentType,
        ...(meta.expiresAt === null
          ? {}
          : { Expires: new Date(meta.expiresAt), Metadata: { [EXPIRES_AT]: String(meta.expiresAt) } }),
      }),
    );
  }

  async get(key: string): Promise<Blob | null> {
    const objectKey = this.objectKey(key);
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const expiresAt = expiryOf(res.Metadata);
    if (expiresAt !== null && expiresAt <= Date.now()) {
      // The bytes of an expired blob are of no use: drop the connection's body unread.
      (res.Body as { destroy?: () => void } | undefined)?.destroy?.();
      return null;
    }
    const bytes = res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    return {
      data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      contentType: res.ContentType ?? 'application/octet-stream',
      expiresAt,
    };
  }

  async delete(key: string): Promise<void> {
    // S3 answers 204 for a missing key too.
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  /**
   * Lists the prefix (ListObjectsV2, 1000 a page), reads each object's expiry with a HEAD (listings carry
   * no user metadata) and deletes the expired ones with DeleteObjects, 1000 a request. That is one HEAD
   * per stored object per sweep: for large buckets an S3 lifecycle rule is the cheaper way (see
   * docs/scale-out.md), with OUTPAINT_SWEEP_INTERVAL_S=0. (A key put again between its HEAD and the
   * delete would be lost, as on the disk store; Outpaint writes each key once.)
   */
  async sweepExpired(now: number): Promise<number> {
    let deleted = 0;
    let expired: string[] = [];
    const flush = async () => {
      while (expired.length > 0) {
        const batch = expired.splice(0, DELETE_BATCH);
        const res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) {
          const first = failed[0];
          throw new Error(`S3 DeleteObjects failed for ${failed.length} key(s), e.g. ${first.Key}: ${first.Code} ${first.Message ?? ''}`);
        }
        deleted += batch.length - (res.Errors?.length ?? 0);
      }
    };
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix || undefined, ContinuationToken: token }),
      );
      const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => k !== undefined);
      for (let i = 0; i < keys.length; i += SWEEP_PARALLEL_HEADS) {
        const heads = await Promise.all(keys.slice(i, i + SWEEP_PARALLEL_HEADS).map((k) => this.expiryOfObject(k)));
        heads.forEach((expiresAt, j) => {
          if (expiresAt !== null && expiresAt <= now) expired.push(keys[i + j]);
        });
      }
      if (expired.length >= DELETE_BATCH) await flush();
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    await flush();
    return deleted;
  }

  /**
   * A small object put and deleted again under the prefix (`.readiness/`, a name no blob key of Outpaint's
   * takes): S3 answering a write, with these credentials, is what readiness needs, not a HeadBucket.
   */
  async checkWritable(): Promise<void> {
    const key = `${this.prefix}.readiness/${randomUUID()}`;
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: 'ok', ContentLength: 2, ContentType: 'text/plain' }));
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * Presigned GET URLs of this bucket, signed locally (no request to S3) with the client's current
   * credentials. Valid until the blob expires, at most 7 days (S3's limit for SigV4), and never beyond
   * the credentials that signed them: with temporary credentials (an instance or task role, SSO) a
   * link stops working when they expire, often within hours.
   */
  async presignedLinks(): Promise<BlobLinks> {
    // The origin is read off a link, so that it is whatever the SDK builds (path or virtual-host style).
    const origin = new URL(await this.presign('probe', 60)).origin;
    return {
      maxValidityMs: PRESIGN_MAX_SECONDS * 1000,
      origin,
      link: async (key, expiresAt) => {
        const seconds = Math.ceil((expiresAt - Date.now()) / 1000);
        // An expired blob still gets a link (that fails, as an expired API link does): S3 wants ≥ 1 s.
        return this.presign(key, Math.min(PRESIGN_MAX_SECONDS, Math.max(1, seconds)));
      },
    };
  }

  private presign(key: string, expiresIn: number): Promise<string> {
    return getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), { expiresIn });
  }

  /** The expiry of an object by its full key; null when it has none or is gone. */
  private async expiryOfObject(objectKey: string): Promise<number | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
      return expiryOf(head.Metadata);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }
}

function expiryOf(metadata: Record<string, string> | undefined): number | null {
  const raw = metadata?.[EXPIRES_AT];
  if (raw === undefined) return null;
  const ms = Number(raw);
  return Number.isFinite(ms) ? ms : null;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}
