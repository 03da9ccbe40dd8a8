import type { ApiKeyRecord } from '../../accounts/model.js';
import type { KeyStore } from '../key-store.js';
import { keyFromRow, sha256Hex, type KeyRow } from '../rows.js';
import { PgPort } from './connection.js';
import { stmt } from './statements.js';

export class PgKeyStore extends PgPort implements KeyStore {
  async create(key: ApiKeyRecord): Promise<void> {
    await this.pool.query(stmt('insertKey', [
      key.accessKey,
      key.secretKey,
      sha256Hex(key.secretKey),
      key.webhookSecret,
      key.accountId,
      key.name,
      key.createdAt,
      key.revokedAt,
    ]));
  }

  async find(accessKey: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.pool.query<KeyRow>(stmt('keyByAccessKey', [accessKey]));
    return rows.length ? keyFromRow(rows[0]) : null;
  }

  async findBySecret(secretKey: string): Promise<ApiKeyRecord | null> {
    const { rows } = await this.pool.query<KeyRow>(stmt('keyBySecretHash', [sha256Hex(secretKey)]));
    return rows.length ? keyFromRow(rows[0]) : null;
  }

  async list(): Promise<ApiKeyRecord[]> {
    return (await this.pool.query<KeyRow>(stmt('allKeys'))).rows.map(keyFromRow);
  }

  async revoke(accessKey: string, at: number): Promise<boolean> {
    return ((await this.pool.query(stmt('revokeKey', [accessKey, at]))).rowCount ?? 0) > 0;
  }

  async webhookSecret(accountId: string): Promise<string | null> {
    const { rows } = await this.pool.query<{ webhook_secret: string }>(stmt('newestLiveWebhookSecret', [accountId]));
    return rows[0]?.webhook_secret ?? null;
  }
}
