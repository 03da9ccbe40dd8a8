/**
 * Signed links to result files: `${publicUrl}/v1/files/<key>?expires=<unix s>&signature=<base64url>`.
 * The signature is an HMAC-SHA256 over the key and the expiry, so a link is valid exactly until the
 * blob it names expires, and nobody can mint a link to another blob (an input, another account's result).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

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
      const encodedKey = key.split('/').map(encodeURIComponent).join('/');
      return `${base}/v1/files/${encodedKey}?expires=${expires}&signature=${signature}`;
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
 * The signing secret kept in `<dataDir>/url-signing.key` (created on first use, mode 0600), so that links
 * handed out stay valid across restarts.
 */
export async function loadOrCreateUrlSecret(dataDir: string): Promise<Buffer> {
  const file = path.join(dataDir, 'url-signing.key');
  try {
    const hex = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64,}$/.test(hex)) return Buffer.from(hex, 'hex');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32);
  try {
    await writeFile(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return Buffer.from((await readFile(file, 'utf8')).trim(), 'hex');
    throw err;
  }
}
