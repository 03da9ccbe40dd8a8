export { checkBlobKey, InvalidBlobKeyError } from '../blob-key.js';
export { DiskBlobStore } from './disk-blob-store.js';
export { FileSecretStore } from './file-secret-store.js';
export { MemoryRateCounter } from './memory-rate-counter.js';
