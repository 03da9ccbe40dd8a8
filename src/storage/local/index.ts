export { checkBlobKey, DiskBlobStore, InvalidBlobKeyError } from './disk-blob-store.js';
