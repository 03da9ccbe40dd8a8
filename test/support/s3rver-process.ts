/**
 * s3rver in a process of its own (`node --openssl-legacy-provider s3rver-process.js DIR`), started by
 * s3-server.ts; prints {"port": N} on stdout once listening and stops on SIGTERM.
 *
 * Why a process with the legacy provider: s3rver 3.7.1 makes ListObjectsV2 continuation tokens with DES
 * (lib/controllers/bucket.js generateContinuationToken), which OpenSSL 3 (Node ≥ 17) has only in its
 * legacy provider; without it every truncated listing (more than 1000 keys) is a 500 InternalError.
 *
 * One fix to s3rver, which S3 itself does not need: its file store writes an object in place
 * (lib/stores/filesystem.js putObject: createWriteStream on the object's own path, and for a body
 * already in memory it resolves before the write has finished), so a GET during a PUT reads a partial
 * object. S3 guarantees a PUT is atomic; the store's putObject is replaced by one that writes a temp
 * file, waits for it, writes the metadata and renames the object into place.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// s3rver has no type declarations.
// @ts-expect-error untyped CommonJS module
import S3rver from 's3rver';

interface S3rverObject {
  bucket: string;
  key: string;
  content: Buffer | Readable;
  metadata: Record<string, string>;
}

interface S3rverStore {
  getResourcePath(bucket: string, key: string, resource: string): string;
  putMetadata(bucket: string, key: string, metadata: Record<string, string>, md5: string): Promise<void>;
  putObject(object: S3rverObject): Promise<{ size: number; md5: string }>;
}

function makePutsAtomic(store: S3rverStore, tmpDir: string): void {
  store.putObject = async (object) => {
    const target = store.getResourcePath(object.bucket, object.key, 'object');
    await mkdir(path.dirname(target), { recursive: true });
    const tmp = path.join(tmpDir, randomUUID());
    const md5 = createHash('md5');
    let size = 0;
    const source = Buffer.isBuffer(object.content) ? Readable.from([object.content]) : object.content;
    const measure = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(source, measure, createWriteStream(tmp));
    const digest = md5.digest('hex');
    // The object file's presence is what makes s3rver see the object: metadata first, then the rename.
    await store.putMetadata(object.bucket, object.key, object.metadata, digest);
    await rename(tmp, target);
    return { size, md5: digest };
  };
}

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: s3rver-process.js DIR\n');
  process.exit(2);
}
const root = path.join(dir, 'objects');
const tmp = path.join(dir, 'tmp');
await Promise.all([mkdir(root, { recursive: true }), mkdir(tmp, { recursive: true })]);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: root });
makePutsAtomic(server.store, tmp);
const { port } = (await server.run()) as AddressInfo;
process.stdout.write(JSON.stringify({ port }) + '\n');
process.on('SIGTERM', () => void server.close().then(() => process.exit(0)));
