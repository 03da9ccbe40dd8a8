/** The storage ports and the function that picks their implementations for a configuration. */
export type { Blob, BlobMeta, BlobStore } from './blob-store.js';
export type { CallbackDelivery, CallbackOutbox } from './callback-outbox.js';
export type { ClaimedJob, JobQueue } from './job-queue.js';
export type { KeyStore } from './key-store.js';
export type { RateCounter, RateHit } from './rate-counter.js';
export type { SecretStore } from './secret-store.js';
export type { DatabaseBackend, OpenOptions, Storage } from './storage.js';
export { StorageNotFoundError, StorageUnavailableError } from './storage.js';
export type { AdmissionLimits, CreateRefusal, CreateResult, ListPage, StatusChange, TaskStore } from './task-store.js';
export { isStorageFull, UNLIMITED_SPACE, type SpaceGuard } from './space.js';
export { openEmbeddedStorage } from './embedded.js';
export { openStorage } from './open.js';
