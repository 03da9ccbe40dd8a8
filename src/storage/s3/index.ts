export { S3BlobStore, type S3BlobStoreOptions } from './s3-blob-store.js';
export { createS3Client, describeS3, openS3BlobStore } from './open.js';
