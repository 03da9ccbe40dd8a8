/** Kling-style tokens for tests: HS256, iss = access key, exp and nbf in Unix seconds. */
import { SignJWT } from 'jose';

export interface TokenOptions {
  /** Seconds from now; default 1800 (what Kling's samples use). */
  expIn?: number;
  /** Seconds from now; default -5. */
  nbfIn?: number;
  alg?: 'HS256' | 'HS384' | 'HS512';
  /** Omit a claim. */
  without?: ('exp' | 'nbf' | 'iss')[];
}

export async function signToken(accessKey: string, secretKey: string, opts: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { iss: accessKey, exp: now + (opts.expIn ?? 1800), nbf: now + (opts.nbfIn ?? -5) };
  for (const c of opts.without ?? []) delete claims[c];
  return new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secretKey));
}

/** A token with alg "none" (no signature), which must be refused. */
export function unsignedToken(accessKey: string): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: accessKey, exp: now + 1800, nbf: now - 5 })}.`;
}
