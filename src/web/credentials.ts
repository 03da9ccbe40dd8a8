/**
 * Who the page calls the API as: an access key + secret key (the page signs HS256 tokens itself and
 * makes a new one before the current one expires) or a plain API key (the secret key sent as it is).
 * Kept in sessionStorage, so they live as long as the tab and no longer.
 */
import { canSignTokens, signToken } from './jwt.js';

export type Credentials = { kind: 'keys'; accessKey: string; secretKey: string } | { kind: 'api-key'; apiKey: string };

const STORAGE_KEY = 'outpaint.credentials';
/** Tokens live 30 minutes, as Kling's samples make them; a new one is made when less than 5 are left. */
const TOKEN_LIFETIME_S = 1800;
const RENEW_BEFORE_MS = 5 * 60_000;

export function loadCredentials(): Credentials | null {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? 'null') as Credentials | null;
    if (stored?.kind === 'keys' && stored.accessKey && stored.secretKey) return stored;
    if (stored?.kind === 'api-key' && stored.apiKey) return stored;
  } catch {
    // Unreadable: start signed out.
  }
  return null;
}

export function saveCredentials(credentials: Credentials | null): void {
  if (credentials) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(credentials));
  else sessionStorage.removeItem(STORAGE_KEY);
}

/** Where tokens come from for the credentials in use. */
export class TokenSource {
  private token: { value: string; expiresAt: number } | null = null;

  constructor(readonly credentials: Credentials) {}

  /** How the page signs in, in words, for the header. */
  describe(): string {
    if (this.credentials.kind === 'api-key') return 'with an API key';
    return `as ${this.credentials.accessKey.slice(0, 8)}…${canSignTokens() ? '' : ' (secret key sent as an API key: no Web Crypto on plain http)'}`;
  }

  /** A bearer token good for at least 5 more minutes. */
  async bearer(now = Date.now()): Promise<string> {
    const c = this.credentials;
    if (c.kind === 'api-key') return c.apiKey;
    // Outside a secure context there is no Web Crypto: the secret key works as an API key too.
    if (!canSignTokens()) return c.secretKey;
    if (!this.token || this.token.expiresAt - now < RENEW_BEFORE_MS) {
      this.token = { value: await signToken(c.accessKey, c.secretKey, TOKEN_LIFETIME_S, now), expiresAt: now + TOKEN_LIFETIME_S * 1000 };
    }
    return this.token.value;
  }
}
