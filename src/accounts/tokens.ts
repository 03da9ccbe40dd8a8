/**
 * Kling's token: an HS256 JWT signed with the secret key, iss = the access key, exp and nbf in Unix
 * seconds (nbf a few seconds back, so that a server whose clock is slightly behind accepts it at once).
 */
import { SignJWT } from 'jose';

export interface SignedToken {
  token: string;
  /** Unix ms. */
  expiresAt: number;
}

export async function signAccessToken(accessKey: string, secretKey: string, ttlSeconds: number, now = Date.now()): Promise<SignedToken> {
  const iat = Math.floor(now / 1000);
  const exp = iat + ttlSeconds;
  const token = await new SignJWT({ iss: accessKey, exp, nbf: iat - 5 })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(secretKey));
  return { token, expiresAt: exp * 1000 };
}
