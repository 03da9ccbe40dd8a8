/**
 * A real S3-protocol server for tests: s3rver (npm) on 127.0.0.1, an ephemeral port, its objects in a
 * temp directory, in a process of its own (see s3rver-process.ts for why, and for the one fix applied to
 * it). It checks the access key of every request, the form of SigV4 headers and presigned URLs and
 * their expiry (X-Amz-Expires ≤ 7 days, not expired), but it does not compute SigV4 signatures:
 * test/support/sigv4.ts checks those of presigned links; the SDK signs the rest.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { tempDir } from './tmp.js';

/** s3rver's built-in account. */
export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
export const S3_REGION = 'us-east-1';

const S3RVER_PROCESS = fileURLToPath(new URL('./s3rver-process.js', import.meta.url));

export interface S3TestServer {
  /** e.g. http://127.0.0.1:40123 */
  endpoint: string;
  /** The environment that points Outpaint (and the AWS SDK's default credential chain) at this server. */
  env(bucket: string): Record<string, string>;
  /** A client of this server, path-style, with its credentials. */
  client(): S3Client;
  /** Creates a bucket with a fresh name and returns the name. */
  createBucket(prefix?: string): Promise<string>;
  close(): Promise<void>;
}

let buckets = 0;

export async function startS3Server(): Promise<S3TestServer> {
  const dir = await tempDir('outpaint-s3rver-');
  const child = spawn(process.execPath, ['--openssl-legacy-provider', S3RVER_PROCESS, dir.path], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const line = /^(\{.*\})\n/.exec(out);
      if (line) resolve((JSON.parse(line[1]) as { port: number }).port);
    });
    void exited.then(() => reject(new Error(`s3rver exited before listening:\n${stderr}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const client = () =>
    new S3Client({ endpoint, region: S3_REGION, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  const admin = client();
  return {
    endpoint,
    env: (bucket) => ({
      OUTPAINT_S3_BUCKET: bucket,
      OUTPAINT_S3_ENDPOINT: endpoint,
      OUTPAINT_S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: S3_REGION,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    }),
    client,
    async createBucket(prefix = 'outpaint-test') {
      const name = `${prefix}-${process.pid}-${++buckets}`;
      await admin.send(new CreateBucketCommand({ Bucket: name }));
      return name;
    },
    async close() {
      admin.destroy();
      child.kill('SIGTERM');
      await exited;
      await dir.remove();
    },
  };
}
