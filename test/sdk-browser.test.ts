/**
 * The SDK's browser path: bundled by esbuild for the browser platform (which cannot resolve a Node
 * module, so one in the client path fails the build), then run in a real Chromium page on the server's
 * own origin against a real `outpaint serve`: tokens signed with Web Crypto, create from bytes, waitFor,
 * events over fetch, results downloaded as bytes, a typed error, and a real callback verified there.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import sharp from 'sharp';
import { launchChromium } from './support/browser.js';
import { makePng } from './support/images.js';
import { waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import type { Receiver } from './support/receiver.js';
import { serveAccount, type ServedAccount } from './support/served-account.js';

// The page's world, for the functions that run inside the browser (this file compiles for Node).
declare const window: any;
declare const location: { origin: string };

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

async function bundle(format: 'esm' | 'iife') {
  return build({
    entryPoints: [path.join(ROOT, 'src/client/index.ts')],
    bundle: true,
    platform: 'browser',
    format,
    globalName: format === 'iife' ? 'OutpaintSDK' : undefined,
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
}

describe('the SDK in a browser', () => {
  let served: ServedAccount;
  let keys: Keys;
  let server: ServerProcess;
  let receiver: Receiver;
  const browserReady: Promise<Browser> = launchChromium();
  browserReady.catch(() => undefined);

  before(async () => {
    served = await serveAccount('browser-sdk');
    ({ keys, server, receiver } = served);
  });

  after(async () => {
    await (await browserReady.catch(() => null))?.close();
    await served.close();
  });

  it('bundles for the browser platform from src/client and the contract’s paths alone, with no Node module', async () => {
    const result = await bundle('esm');
    const inputs = Object.keys(result.metafile.inputs).sort();
    assert.ok(inputs.length > 5, inputs.join(' '));
    assert.deepEqual(inputs.filter((f) => !f.startsWith('src/client/') && f !== 'src/contract/paths.ts'), []);
    const text = result.outputFiles[0].text;
    assert.doesNotMatch(text, /\bnode:|require\(/);
    assert.match(text, /export\s*\{[^}]*OutpaintClient/);
  });

  it('runs create, waitFor, events, download, a typed error and verifyWebhook in Chromium', async () => {
    const browser = await browserReady;
    const script = (await bundle('iife')).outputFiles[0].text;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // A page of the server's own origin (the API sends no CORS headers); everything else is the real server.
      await page.route(`${server.url}/sdk-test.html`, (route) =>
        route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>SDK</title>' }),
      );
      await page.goto(`${server.url}/sdk-test.html`);
      await page.addScriptTag({ content: script });

      const image = (await makePng(320, 320)).toString('base64');
      const run = await page.evaluate(
        async ({ accessKey, secretKey, image, callbackUrl }) => {
          const { OutpaintClient, OutpaintError } = window.OutpaintSDK;
          const client = new OutpaintClient({ baseUrl: location.origin, accessKey, secretKey });
          const bytes = Uint8Array.from(atob(image), (c) => c.charCodeAt(0));
          const created = await client.create({ image: bytes, left_expansion_ratio: 0.25, right_expansion_ratio: 0.25, callback_url: callbackUrl });
          const progress: string[] = [];
          const task = await client.waitFor(created.task_id, { pollIntervalMs: 50, onProgress: (t: any) => progress.push(t.task_status) });
          const events: string[] = [];
          for await (const t of client.events(created.task_id)) events.push(t.task_status);
          const [png] = await client.downloadResults(task);
          let binary = '';
          for (let i = 0; i < png.length; i += 0x8000) binary += String.fromCharCode(...png.subarray(i, i + 0x8000));
          let error: unknown = null;
          try {
            await client.get('no-such-task');
          } catch (err: any) {
            error = { typed: err instanceof OutpaintError, code: err.code, status: err.status, requestId: err.request_id };
          }
          return { taskId: created.task_id, status: task.task_status, progress, events, png: btoa(binary), isBytes: png instanceof Uint8Array, error };
        },
        { accessKey: keys.access_key, secretKey: keys.secret_key, image, callbackUrl: receiver.url },
      );
      assert.equal(run.status, 'succeed');
      assert.equal(run.progress.at(-1), 'succeed');
      assert.deepEqual(run.events, ['succeed']);
      assert.ok(run.isBytes);
      const meta = await sharp(Buffer.from(run.png, 'base64')).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 480, 320]);
      assert.deepEqual({ ...(run.error as object), requestId: undefined }, { typed: true, code: 1203, status: 404, requestId: undefined });
      assert.match((run.error as { requestId: string }).requestId, /^[0-9a-f-]{36}$/);

      const delivery = await waitFor('the succeed callback', async () => receiver.received.find((r) => r.body.task_status === 'succeed'));
      const verdicts = await page.evaluate(
        async ({ headers, raw, secret }) => {
          const { verifyWebhook } = window.OutpaintSDK;
          const body = await verifyWebhook(new Headers(headers), raw, secret);
          const tampered = await verifyWebhook(headers, raw.replace('succeed', 'failed'), secret).then(
            () => 'accepted',
            (err: Error) => `${err.name}: ${err.message}`,
          );
          return { taskId: body.task_id, tampered };
        },
        { headers: delivery.headers as Record<string, string>, raw: delivery.raw, secret: keys.webhook_secret },
      );
      assert.deepEqual(verdicts, { taskId: run.taskId, tampered: 'WebhookVerificationError: webhook-signature: no signature matches' });
    } finally {
      await context.close();
    }
  });
});
