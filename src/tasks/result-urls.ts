/**
 * Signed links to result files: `${publicUrl}/v1/files/<key>?expires=<unix s>&signature=<base64url>`
 * (FILES_PATH in src/contract/paths.ts).
 * The signature is an HMAC-SHA256 over the key and the expiry, so a link is valid exactly until the
 * blob it names expires, and nobody can mint a link to another blob (an input, another account's result).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { filePath } from '../contract/paths.js';
import type { SecretStore } from '../storage/secret-store.js';

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
