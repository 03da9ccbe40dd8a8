/** The BlobStore key rule (see blob-store.ts), shared by every implementation so they refuse the same keys. */

export class InvalidBlobKeyError extends Error {
  constructor(key: unknown, rule: string) {
    super(`invalid blob key ${JSON.stringify(key)}: ${rule}`);
    this.name = 'InvalidBlobKeyError';
  }
}

const SEGMENT = /^[A-Za-z0-9._-]+$/;
const MAX_KEY_LENGTH = 1024;

/** Throws InvalidBlobKeyError unless the key is relative "/"-joined [A-Za-z0-9._-] segments, none "." or "..". */
export function checkBlobKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(key, 'empty');
  if (key.length > MAX_KEY_LENGTH) throw new InvalidBlobKeyError(key, `longer than ${MAX_KEY_LENGTH}`);
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidBlobKeyError(key, 'absolute, or an empty segment');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, `"${segment}" segment`);
    if (!SEGMENT.test(segment)) throw new InvalidBlobKeyError(key, 'segments are [A-Za-z0-9._-] only');
  }
}
