/**
 * `outpaint/client` as a dependency: a tiny consumer project in a temp dir (node_modules/outpaint a
 * symlink to this checkout, built) type-checks against the published declarations with the strictest
 * settings, for Node (NodeNext) and for bundlers, and imports the package at run time through its
 * `exports`. Wrong uses are marked @ts-expect-error, so types that turned loose (any) fail as well.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type * as sdk from '../src/client/index.js';
import type * as contract from '../src/contract/schemas.js';
import { tempDir } from './support/tmp.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

// What Outpaint sends is what the SDK's types (Kling's, Outpaint's fields optional) describe, and what
// the SDK sends is a body the server's schema takes: checked when this file compiles.
export const taskFits = (task: contract.Task): sdk.Task => task;
export const createdFits = (task: contract.CreatedTask): sdk.CreatedTask => task;
export const bodyFits = (body: sdk.ExpandRequest & { image: string }): contract.ExpandBody => body;

const CONSUMER = `
import {
  isFinished, NETWORK_ERROR, OutpaintClient, OutpaintError, verifyWebhook, WebhookVerificationError,
  type CreatedTask, type ExpandRequest, type Task, type TaskStatus,
} from 'outpaint/client';

const kling = new OutpaintClient({ baseUrl: 'https://api-singapore.klingai.com', accessKey: 'ak', secretKey: 'sk', token: { ttlSeconds: 600 } });
const outpaint = new OutpaintClient({ baseUrl: new URL('https://outpaint.example/prefix'), apiKey: 'key', retry: { retries: 5, baseDelayMs: 100 }, timeoutMs: 1000 });
// @ts-expect-error an access key needs its secret key
new OutpaintClient({ baseUrl: 'https://x', accessKey: 'ak' });
// @ts-expect-error a base URL is needed
new OutpaintClient({ apiKey: 'key' });

const request: ExpandRequest = { image: new Uint8Array(4), left_expansion_ratio: 0.5, n: 2, watermark_info: { enabled: true }, seed: 7 };
// @ts-expect-error n is a number
export const wrongN: ExpandRequest = { image: 'https://example.com/a.png', n: '2' };
// @ts-expect-error the image is needed
export const noImage: ExpandRequest = { left_expansion_ratio: 0.5 };

export async function main(): Promise<void> {
  const created: CreatedTask = await kling.create(request, { signal: AbortSignal.timeout(5000) });
  const task: Task = await kling.waitFor(created.task_id, {
    onProgress: (t: Task) => console.log(t.task_status, t.task_progress ?? 0),
    signal: AbortSignal.timeout(60_000),
    pollIntervalMs: 500,
  });
  const status: TaskStatus = task.task_status;
  // @ts-expect-error Kling spells it "succeed"
  if (status === 'succeeded') console.log('never');
  if (isFinished(task) && task.task_status === 'succeed') {
    const images: Uint8Array[] = await kling.downloadResults(task, { watermarked: true });
    const first: Uint8Array = await kling.download(task.task_result?.images[0]?.url ?? '');
    console.log(images.length, first.byteLength);
  }
  // @ts-expect-error task_progress is Outpaint's own: Kling's tasks have none
  const progress: number = task.task_progress;
  console.log(progress);

  for await (const t of outpaint.list({ pageSize: 100 })) console.log(t.task_id.toUpperCase());
  for await (const page of outpaint.pages({ pageNum: 2 })) console.log(page.length);
  for await (const t of outpaint.events(created.task_id, { lastEventId: 'v1' })) console.log(t.task_progress);
  const byExternal: Task = await outpaint.get({ external_task_id: 'order-1' });
  const cancelled: Task = await outpaint.cancel({ task_id: byExternal.task_id });
  console.log(cancelled.task_status_msg);

  try {
    await outpaint.get('x');
  } catch (err) {
    if (err instanceof OutpaintError) {
      const described: [number, number, string, boolean, number | undefined] = [err.code, err.status, err.request_id, err.retryable, err.retryAfter];
      if (err.code === NETWORK_ERROR || err.code === 1302) console.log(described);
    }
  }
  try {
    const body: Task = await verifyWebhook(new Headers(), new Uint8Array(), 'whsec_AAAA', { toleranceSeconds: 60 });
    await verifyWebhook({ 'webhook-id': 'a', 'webhook-timestamp': ['1'], 'x-other': undefined }, '{}', 'whsec_AAAA');
    console.log(body.task_id);
  } catch (err) {
    if (err instanceof WebhookVerificationError) console.log(err.message);
  }
}
`;

const STRICT = {
  strict: true,
  noEmit: true,
  exactOptionalPropertyTypes: true,
  noUncheckedIndexedAccess: true,
  noImplicitReturns: true,
  noUnusedLocals: true,
  // Our declarations are checked too, not only used (TypeScript's own lib files are not: they are slow).
  skipLibCheck: false,
  skipDefaultLibCheck: true,
  target: 'ES2022',
  lib: ['ES2023', 'DOM', 'DOM.Iterable'],
  types: [],
};

describe('a strict consumer of outpaint/client', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    dir = await tempDir('outpaint-consumer-');
    await mkdir(path.join(dir.path, 'node_modules'));
    await symlink(ROOT, path.join(dir.path, 'node_modules', 'outpaint'), 'dir');
    // Node's types, for the README's example (which reads and writes files).
    await symlink(path.join(ROOT, 'node_modules', '@types'), path.join(dir.path, 'node_modules', '@types'), 'dir');
    await writeFile(path.join(dir.path, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    await writeFile(path.join(dir.path, 'consumer.ts'), CONSUMER);
  });
  after(() => dir.remove());

  for (const [name, resolution] of [
    ['Node (NodeNext)', { module: 'NodeNext', moduleResolution: 'NodeNext' }],
    ['a bundler', { module: 'ESNext', moduleResolution: 'Bundler' }],
  ] as const) {
    it(`type-checks with tsc --noEmit, resolving as ${name} does`, async () => {
      const config = path.join(dir.path, `tsconfig.${resolution.moduleResolution}.json`);
      await writeFile(config, JSON.stringify({ compilerOptions: { ...STRICT, ...resolution }, files: ['consumer.ts'] }));
      const result = await run(process.execPath, [TSC, '-p', config]).then(
        () => ({ code: 0, out: '' }),
        (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
      );
      assert.equal(result.code, 0, result.out);
    });
  }

  it('fails to type-check a wrong use (the check above can fail)', async () => {
    await writeFile(path.join(dir.path, 'wrong.ts'), `import { OutpaintClient } from 'outpaint/client';\nnew OutpaintClient({ baseUrl: 'x', apiKey: 1 });\n`);
    const config = path.join(dir.path, 'tsconfig.wrong.json');
    await writeFile(config, JSON.stringify({ compilerOptions: { ...STRICT, module: 'NodeNext', moduleResolution: 'NodeNext' }, files: ['wrong.ts'] }));
    const err = await run(process.execPath, [TSC, '-p', config]).then(() => null, (e: { stdout: string }) => e);
    assert.ok(err, 'tsc refused it');
    assert.match(err.stdout, /wrong\.ts\(2,.*apiKey|Type 'number' is not assignable to type 'string'/);
  });

  it("the README's example type-checks (strict, Node's types)", async () => {
    const readme = await readFile(path.join(ROOT, 'README.md'), 'utf8');
    const example = /## From code: the SDK[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'the README has an SDK example');
    assert.ok(example.split('\n').length <= 12, 'about ten lines');
    await writeFile(path.join(dir.path, 'readme.ts'), example);
    const config = path.join(dir.path, 'tsconfig.readme.json');
    const options = { strict: true, noEmit: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', types: ['node'], skipLibCheck: true };
    await writeFile(config, JSON.stringify({ compilerOptions: options, files: ['readme.ts'] }));
    const result = await run(process.execPath, [TSC, '-p', config]).then(
      () => ({ code: 0, out: '' }),
      (err: { code: number; stdout: string }) => ({ code: err.code, out: err.stdout }),
    );
    assert.equal(result.code, 0, result.out);
  });

  it('imports at run time through the exports map', async () => {
    const script =
      "const m = await import('outpaint/client');" +
      "const c = new m.OutpaintClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'k' });" +
      "console.log(JSON.stringify([typeof m.verifyWebhook, typeof c.waitFor, m.NETWORK_ERROR]));";
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: dir.path });
    assert.equal(stdout.trim(), '["function","function",-1]');
    // Only the SDK is exported: the server's modules are not part of the package's interface.
    const refused = await run(process.execPath, ['--input-type=module', '-e', "await import('outpaint/dist/src/server.js')"], { cwd: dir.path }).then(
      () => null,
      (e: { stderr: string }) => e.stderr,
    );
    assert.match(refused ?? '', /ERR_PACKAGE_PATH_NOT_EXPORTED/);
  });
});
