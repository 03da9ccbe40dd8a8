/**
 * Who is calling: `Authorization: Bearer <token>` where the token is either an HS256 JWT signed with the
 * account's secret key (iss = access key, exp, nbf), or the secret key itself (Kling's "API key" style).
 * Verified tokens are cached briefly so that a busy client costs no database read per request; the cache
 * life is capped (60 s by default) so that a revoked key stops working soon after.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { ApiError } from '../contract/errors.js';
import type { KeyStore } from '../storage/key-store.js';
import { LruCache } from '../util/lru.js';
import type { ApiKeyRecord } from './model.js';

export interface Caller {
  accountId: string;
  accessKey: string;
}

/** A token verified until `until` (Unix ms). */
export interface VerifiedToken {
  caller: Caller;
  until: number;
}

/**
 * Where verified tokens are remembered: per process by default (an LRU). A shared backend may put a
 * cache here that also forgets the tokens of a key revoked on another node.
 */
export interface TokenCache {
  get(token: string): VerifiedToken | undefined;
  set(token: string, verified: VerifiedToken): void;
  delete(token: string): void;
  clear(): void;
}

export interface AuthenticatorOptions {
  keys: Pick<KeyStore, 'find' | 'findBySecret'>;
  /** Leeway on exp and nbf (config.tokenSkewSeconds). */
  skewSeconds: number;
  /** Longest a verified token is trusted without looking its key up again. */
  cacheMs?: number;
  /** Default: an LRU of 10 000 tokens in this process. */
  cache?: TokenCache;
  now?: () => number;
}

export interface Authenticator {
  /** Resolves the caller for an Authorization header value; throws 1001–1004. */
  authenticate(header: string | undefined): Promise<Caller>;
  /** The caller of a header whose token was verified recently, without waiting; null otherwise. */
  cached(header: string | undefined): Caller | null;
  /** Forgets every cached token (e.g. right after a key is revoked in this process). */
  clearCache(): void;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const PLAIN_KEY_SHAPE = /^[A-Za-z0-9_-]{16,256}$/;

export function createAuthenticator(opts: AuthenticatorOptions): Authenticator {
  const now = opts.now ?? Date.now;
  const cacheMs = opts.cacheMs ?? 60_000;
  const cache: TokenCache = opts.cache ?? new LruCache<string, VerifiedToken>(10_000);

  const verifyJwt = async (token: string): Promise<VerifiedToken> => {
    let iss: unknown;
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
      iss = decodeJwt(token).iss;
    } catch {
      throw invalid('token is not a valid JWT');
    }
    if (alg !== 'HS256') throw invalid('token must be signed with HS256');
    if (typeof iss !== 'string' || !iss) throw invalid('token has no iss (access key)');
    const key = await opts.keys.find(iss);
    if (!key || key.revokedAt !== null) throw invalid('unknown or revoked access key');
    let exp: number;
    try {
      const { payload } = await jwtVerify(token, new TextEncoder().encode(key.secretKey), {
        algorithms: ['HS256'],
        clockTolerance: opts.skewSeconds,
        currentDate: new Date(now()),
        requiredClaims: ['exp'],
      });
      exp = payload.exp as number;
    } catch (err) {
      throw jwtFailure(err);
    }
    return { caller: callerOf(key), until: Math.min(now() + cacheMs, (exp + opts.skewSeconds) * 1000) };
  };

  const verifyPlainKey = async (token: string): Promise<VerifiedToken> => {
    const key = await opts.keys.findBySecret(token);
    // The store finds keys by a hash of the secret; compare the secrets themselves without leaking timing.
    if (!key || !sameSecret(key.secretKey, token) || key.revokedAt !== null) {
      throw invalid('unknown or revoked API key');
    }
    return { caller: callerOf(key), until: now() + cacheMs };
  };

  /** The bearer token of an Authorization header; throws 1001/1002 for a missing or malformed one. */
  const tokenOf = (header: string | undefined): string => {
    const value = header?.trim();
    if (!value) throw new ApiError('AUTH_MISSING');
    const match = /^Bearer(?:\s+(\S*))?$/i.exec(value);
    if (!match) throw invalid('expected "Bearer <token>"');
    const token = match[1];
    if (!token) throw new ApiError('AUTH_MISSING');
    return token;
  };

  const fromCache = (token: string): Caller | null => {
    const hit = cache.get(token);
    if (hit && hit.until > now()) return hit.caller;
    if (hit) cache.delete(token);
    return null;
  };

  return {
    async authenticate(header) {
      const token = tokenOf(header);
      const known = fromCache(token);
      if (known) return known;

      let verified: VerifiedToken;
      if (JWT_SHAPE.test(token)) verified = await verifyJwt(token);
      else if (PLAIN_KEY_SHAPE.test(token)) verified = await verifyPlainKey(token);
      else throw invalid('token is neither a JWT nor an API key');
      if (verified.until > now()) cache.set(token, verified);
      return verified.caller;
    },
    cached(header) {
      // The common case is "Bearer <token>" exactly: look it up without the full parse.
      if (!header || !header.startsWith('Bearer ')) return null;
      return fromCache(header.slice(7));
    },
    clearCache: () => cache.clear(),
  };
}

function callerOf(key: ApiKeyRecord): Caller {
  return { accountId: key.accountId, accessKey: key.accessKey };
}

function invalid(detail: string): ApiError {
  return new ApiError('AUTH_INVALID', `Authorization invalid: ${detail}`);
}

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function jwtFailure(err: unknown): ApiError {
  if (err instanceof joseErrors.JWTExpired) return new ApiError('TOKEN_EXPIRED', 'token expired (exp is in the past)');
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return new ApiError('TOKEN_NOT_YET_VALID', 'token not yet valid (nbf is in the future)');
    return invalid(`claim ${err.claim} ${err.reason === 'missing' ? 'is missing' : 'is invalid'}`);
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('signature does not match');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return invalid('token must be signed with HS256');
  return invalid('token is not a valid JWT');
}
