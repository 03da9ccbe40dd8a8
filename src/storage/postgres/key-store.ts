import type { ApiKeyRecord } from '../../accounts/model.js';
import type { KeyStore } from '../key-store.js';
import { keyFromRow, sha256Hex, type KeyRow } from '../rows.js';
import { PgPort } from './connection.js';
import { SQL } from './statements.js';

export class PgKeyStore extends PgPort implements KeyStore {
  async create(key: ApiKeyRecord): Promise<void> {
    await this.pool.query(SQL.insertKey, [
      key.accessKey,
      key.secretKey,
      sha256Hex(key.secretKey),
      key.webhookSecret,
      key.accountId,
      key.name,
      key.createdAt,
      key.revokedAt,
    ]);
  }

  async find(accessKey: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.pool.query<KeyRow>(SQL.keyByAccessKey, [accessKey]);
    return rows.length ? keyFromRow(rows[0]) : null;
  }

  async findBySecret(secretKey: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.pool.query<KeyRow>(SQL.keyBySecretHash, [sha256Hex(secretKey)]);
    return rows.length ? keyFromRow(rows[0]) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.pool.query<KeyRow>(SQL.allKeys)).rows.map(keyFromRow);
  }

  async revoke(accessKey: string, at: number): Promise<boolean> {
    return ((await this.pool.query(SQL.revokeKey, [accessKey, at])).rowCount ?? 0) > 0;
  }

  async webhookSecret(accountId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ webhook_secret: string }>(SQL.newestLiveWebhookSecret, [accountId]);
    return rows[0]?.webhook_secret ?? null;
  }
}
