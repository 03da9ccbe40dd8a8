/**
 * Kling's tokens made in the browser: an HS256 JWT with iss = access key, exp and nbf (Unix seconds),
 * signed with the secret key through Web Crypto. Web Crypto exists only in secure contexts (https, or
 * localhost/127.0.0.1); elsewhere `canSignTokens()` is false.
 */

export function canSignTokens(): boolean {
  return typeof crypto !== 'undefined' && crypto.subtle !== undefined;
}

const encoder = new TextEncoder();

function base64url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A token valid from a few seconds ago (clock skew) for `lifetimeSeconds`. */
export async function signToken(accessKey: string, secretKey: string, lifetimeSeconds: number, nowMs = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const header = base64url(encoder.encode(JSON.stringify({ alg: 'HS256', typ: 'JWT' })));
  const payload = base64url(encoder.encode(JSON.stringify({ iss: accessKey, exp: now + lifetimeSeconds, nbf: now - 5 })));
  const key = await crypto.subtle.importKey('raw', encoder.encode(secretKey), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`${header}.${payload}`)));
  return `${header}.${payload}.${base64url(signature)}`;
}
