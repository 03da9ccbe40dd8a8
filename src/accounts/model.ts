/** An API key: the access key names it, the secret key signs tokens, the webhook secret signs callbacks. */
export interface ApiKeyRecord {
  accessKey: string;
  secretKey: string;
  webhookSecret: string;
  accountId: string;
  name: string;
  createdAt: number;
  revokedAt: number | null;
}
