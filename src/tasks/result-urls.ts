/**
 * Signed links to result files: `${publicUrl}/v1/files/<key>?expires=<unix s>&signature=<base64url>`
 * (FILES_PATH in src/contract/paths.ts).
 * The signature is an HMAC-SHA256 over the key and the expiry, so a link is valid exactly until the
 * blob it names expires, and nobody can mint a link to another blob (an input, another account's result).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { filePath } from '../contract/paths.js';
import type { BlobLinks } from '../storage/blob-store.js';
import type { SecretStore } from '../storage/secret-store.js';
import { LruCache } from '../util/lru.js';

export type UrlCheck = 'ok' | 'expired' | 'invalid';

export interface ResultUrlSigner {
  /** How long a result stays reachable after its task finished (config.resultTtlMs). */
  readonly ttlMs: number;
  /** A link to the blob `key`, valid until `expiresAt` (Unix ms, rounded up to a second). */
  sign(key: string, expiresAt: number): string;
  /** Checks the query of a file link against its key. */
  verify(key: string, expires: string | undefined, signature: string | undefined, now?: number): UrlCheck;
}

export interface ResultUrlOptions {
  /** Base URL without a trailing slash, e.g. https://outpaint.example.com. */
  publicUrl: string;
  /** HMAC key; at least 32 random bytes. Links survive restarts only if it does. */
  secret: Buffer;
  ttlMs: number;
}

export function createResultUrlSigner(opts: ResultUrlOptions): ResultUrlSigner {
  if (opts.secret.length < 16) throw new Error('result URL secret must be at least 16 bytes');
  const base = opts.publicUrl.replace(/\/+$/, '');
  const mac = (key: string, expires: string): Buffer =>
    createHmac('sha256', opts.secret).update(`${key}\n${expires}`).digest();

  return {
    ttlMs: opts.ttlMs,
    sign(key, expiresAt) {
      const expires = String(Math.ceil(expiresAt / 1000));
      const signature = mac(key, expires).toString('base64url');
      return `${base}${filePath(key)}?expires=${expires}&signature=${signature}`;
    },
    verify(key, expires, signature, now = Date.now()) {
      if (!expires || !signature || !/^\d{1,12}$/.test(expires)) return 'invalid';
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(key, expires);
      // Checked before the expiry so that an expired-but-forged link is reported as invalid.
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
      if (Number(expires) * 1000 <= now) return 'expired';
      return 'ok';
    },
  };
}

/**
 * The signing key, shared by every node through the storage's secrets (a link minted by one node verifies
 * on all), created on first use; the embedded storage keeps it in `<dataDir>/url-signing.key`.
 */
export function resultUrlSecret(secrets: SecretStore): Promise<Buffer> {
  return secrets.getOrCreate('url-signing', () => randomBytes(32));
}

/**
 * How the links in a task's results are made: the API's own signed links (above), or links straight to
 * the blob store (presigned S3 URLs, OUTPAINT_S3_RESULT_LINKS=presigned).
 */
export interface ResultLinks {
  /** How long a result stays reachable after its task finished (config.resultTtlMs). */
  readonly ttlMs: number;
  /**
   * Whether a link depends only on its key and expiry, so that the view of a finished task can be kept;
   * presigned links also depend on when they were made (at most 7 days from then).
   */
  readonly stable: boolean;
  /** The origin of the links when it is not the API's own (a web page must be allowed to load from it). */
  readonly foreignOrigin: string | null;
  link(key: string, expiresAt: number): Promise<string>;
}

/** Links to the API's file route, signed with the shared key; the API reads the blob store (proxied). */
export function apiResultLinks(signer: ResultUrlSigner): ResultLinks {
  return { ttlMs: signer.ttlMs, stable: true, foreignOrigin: null, link: async (key, expiresAt) => signer.sign(key, expiresAt) };
}

/** A presigned link is handed out again for this long after it was made (signing one costs ≈ 1 ms of CPU). */
export const PRESIGNED_REUSE_MS = 60 * 60 * 1000;
const PRESIGNED_CACHE_ENTRIES = 10_000;

/**
 * Links straight to the blob store: valid until the result expires or the store's limit (S3: 7 days)
 * from when they were made, whichever is first. A link is reused for up to PRESIGNED_REUSE_MS, so a
 * polled task costs no signing, and a link handed out is valid for at least the limit less that hour.
 */
export function blobStoreResultLinks(links: BlobLinks, ttlMs: number, now: () => number = Date.now): ResultLinks {
  const made = new LruCache<string, { url: Promise<string>; at: number }>(PRESIGNED_CACHE_ENTRIES);
  return {
    ttlMs,
    stable: false,
    foreignOrigin: links.origin,
    link(key, expiresAt) {
      const id = `${expiresAt}\n${key}`;
      const known = made.get(id);
      if (known && now() - known.at < PRESIGNED_REUSE_MS) return known.url;
      const url = links.link(key, expiresAt);
      made.set(id, { url, at: now() });
      url.catch(() => made.delete(id));
      return url;
    },
  };
}
