import type { ApiKeyRecord } from '../../accounts/model.js';
import type { KeyStore } from '../key-store.js';
import { SqlitePort } from './connection.js';
import { keyFromRow, sha256Hex } from '../rows.js';

export class SqliteKeyStore extends SqlitePort implements KeyStore {
  async create(key: ApiKeyRecord): Promise<void> {
    this.sql.insertKey.run({ ...key, secretSha256: sha256Hex(key.secretKey) });
  }

  async find(accessKey: string): Promise<ApiKeyRecord | null> {
    const row = this.sql.keyByAccessKey.get(accessKey);
    return row ? keyFromRow(row) : null;
  }

  async findBySecret(secretKey: string): Promise<ApiKeyRecord | null> {
    const row = this.sql.keyBySecretHash.get(sha256Hex(secretKey));
    return row ? keyFromRow(row) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return this.sql.allKeys.all().map(keyFromRow);
  }

  async revoke(accessKey: string, at: number): Promise<boolean> {
    return this.sql.revokeKey.run({ accessKey, at }).changes > 0;
  }

  async webhookSecret(accountId: string): Promise<string | null> {
    return this.sql.newestLiveWebhookSecret.get(accountId)?.webhook_secret ?? null;
  }
}
