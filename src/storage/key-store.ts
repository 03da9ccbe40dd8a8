import type { ApiKeyRecord } from '../accounts/model.js';

/** API keys; an account is the set of keys that share its id. */
export interface KeyStore {
  /** Stores a new key; a duplicate access key or secret key is an error. */
  create(key: ApiKeyRecord): Promise<void>;
  /** The key with this access key, revoked or not: callers check `revokedAt`. */
  find(accessKey: string): Promise<ApiKeyRecord | null>;
  /**
   * For plain API keys sent as bearer tokens: the key with this secret key, revoked or not (callers check
   * `revokedAt`). Backends look it up by a SHA-256 of the secret, never by comparing secrets in a query.
   */
  findBySecret(secretKey: string): Promise<ApiKeyRecord | null>;
  /** Every key, revoked ones included, oldest first. */
  list(): Promise<ApiKeyRecord[]>;
  /** True when a live key was revoked; false when unknown or already revoked. */
  revoke(accessKey: string, at: number): Promise<boolean>;
  /**
   * The secret callbacks to this account are signed with: the webhook secret of the account's newest
   * live key (by createdAt). Null when the account has no live key.
   */
  webhookSecret(accountId: string): Promise<string | null>;
  close(): Promise<void>;
}
