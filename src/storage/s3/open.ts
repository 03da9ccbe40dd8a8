/** The S3 blob store from the settings: the SDK's own endpoint, region and credential resolution. */
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3Settings } from '../../config.js';
import { StorageUnavailableError } from '../storage.js';
import { S3BlobStore } from './s3-blob-store.js';

/**
 * Region and credentials come from the AWS SDK's default chain (AWS_REGION, AWS_ACCESS_KEY_ID /
 * AWS_SECRET_ACCESS_KEY, ~/.aws/config and credentials, SSO, web identity, container or instance
 * roles), so any deployment's usual way of handing out S3 access works unchanged.
 */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    endpoint: settings.endpoint ?? undefined,
    forcePathStyle: settings.forcePathStyle,
    // Checksums only where S3 requires one: many S3-compatible servers reject the newer flexible
    // checksum headers the SDK would otherwise add to every upload.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Where the blobs live, for people: e.g. "S3 bucket outpaint (http://127.0.0.1:9000), prefix outpaint/". */
export function describeS3(settings: S3Settings): string {
  const where = settings.endpoint ?? 'AWS';
  return `S3 bucket ${settings.bucket} (${where})${settings.prefix ? `, prefix ${settings.prefix}` : ''}`;
}

/** Opens the store and checks that the bucket answers with these credentials (a clear error at start, not at the first upload). */
export async function openS3BlobStore(settings: S3Settings): Promise<S3BlobStore> {
  const client = createS3Client(settings);
  try {
    await client.send(new HeadBucketCommand({ Bucket: settings.bucket }));
  } catch (err) {
    client.destroy();
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    const why = status === 404 ? 'no such bucket' : status === 403 ? 'access denied (check the AWS credentials)' : `${e.name ?? 'error'}: ${e.message ?? String(err)}`;
    throw new StorageUnavailableError(`${describeS3(settings)}: ${why}`, { cause: err });
  }
  return new S3BlobStore({ client, bucket: settings.bucket, prefix: settings.prefix });
}
