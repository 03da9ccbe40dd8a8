/**
 * The bearer token of every request. Kling's token is an HS256 JWT signed with the secret key (header
 * {"alg":"HS256","typ":"JWT"}, iss = access key, exp and nbf in Unix seconds), made here with Web Crypto
 * so that the same code runs in Node and in browsers. One token is made and shared by concurrent calls
 * until it nears its expiry; a plain API key is sent as it is.
 */
import { base64url, utf8 } from './encoding.js';

export interface TokenSource {
  bearer(): Promise<string>;
}

export interface JwtOptions {
  /** Lifetime of each token (default 1800 s, as Kling's samples). */
  ttlSeconds?: number;
  /** A new token is made when fewer seconds than this are left (default 300). */
  renewBeforeSeconds?: number;
  /** Clock for tests and skewed machines (Unix ms). */
  now?: () => number;
}

/** An HS256 JWT valid from 5 s ago (clock skew) for `ttlSeconds`. */
export async function signJwt(accessKey: string, secretKey: string, ttlSeconds: number, nowMs = Date.now()): Promise<string> {
  if (typeof crypto === 'undefined' || !crypto.subtle) {
    throw new TypeError('Web Crypto (crypto.subtle) is not available here, e.g. a page on plain http from another machine: use https, or { apiKey }');
  }
  const now = Math.floor(nowMs / 1000);
  const header = base64url(utf8(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const payload = base64url(utf8(JSON.stringify({ iss: accessKey, exp: now + ttlSeconds, nbf: now - 5 })));
  const key = await crypto.subtle.importKey('raw', utf8(secretKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, utf8(`${header}.${payload}`)));
  return `${header}.${payload}.${base64url(signature)}`;
}

export function jwtSource(accessKey: string, secretKey: string, opts: JwtOptions = {}): TokenSource {
  const ttl = opts.ttlSeconds ?? 1800;
  const renewBefore = Math.min(opts.renewBeforeSeconds ?? 300, ttl / 2);
  const now = opts.now ?? Date.now;
  let current: { token: Promise<string>; renewAt: number } | null = null;
  return {
    bearer() {
      const t = now();
      if (!current || t >= current.renewAt) {
        const token = signJwt(accessKey, secretKey, ttl, t);
        current = { token, renewAt: t + (ttl - renewBefore) * 1000 };
        // A failed signing (no Web Crypto) is not kept: the next call tries again.
        token.catch(() => {
          if (current?.token === token) current = null;
        });
      }
      return current.token;
    },
  };
}

export function apiKeySource(apiKey: string): TokenSource {
  const token = Promise.resolve(apiKey);
  return { bearer: () => token };
}
