/**
 * The interactive API reference at /docs, on a real `outpaint serve`: Swagger UI over the same document
 * as /openapi.json, every asset served by Outpaint itself (checked by fetching them, then in Chromium by
 * watching every request), under a CSP that Swagger UI runs under without one violation.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { DOCS_CSP } from '../src/api/docs.js';
import { launchChromium } from './support/browser.js';
import { createKeys, runCli, startServer, stopServer, tempDataDir, type Keys, type ServerProcess, waitFor } from './support/outpaint-process.js';

let server: ServerProcess;
let keys: Keys;
let browser: Browser;
let cleanup: () => Promise<void>;

before(async () => {
  browser = await launchChromium();
  const data = await tempDataDir();
  cleanup = data.cleanup;
  keys = await createKeys(data.dir, 'docs');
  server = await startServer({ OUTPAINT_DATA_DIR: data.dir, OUTPAINT_PORT: '0', OUTPAINT_WORKERS: '1' });
});
after(async () => {
  await browser?.close();
  if (server) await stopServer(server);
  await cleanup?.();
});

describe('/docs, served by the server alone', () => {
  it('the start-up banner points at the web page, the reference, the OpenAPI document and the health check', async () => {
    // startServer returns at the banner's first line; the rest follows in the same tick or the next.
    const banner = await waitFor('the banner', async () => /\n {2}data /.test(server.stderr()) && server.stderr(), 5000);
    assert.ok(banner.includes(`API reference  ${server.url}/docs  (OpenAPI document: ${server.url}/openapi.json)`), banner);
    assert.ok(banner.includes(`health         ${server.url}/healthz`), banner);
    assert.ok(banner.includes(`web page       ${server.url}/\n`), banner);
  });

  it('is an HTML page whose scripts and styles all come from this server, under the docs CSP', async () => {
    const res = await fetch(`${server.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(res.headers.get('content-security-policy'), DOCS_CSP);
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    assert.ok(assets.length >= 5, `assets: ${assets.join(', ')}`);
    const expected: Record<string, RegExp> = { '.js': /javascript/, '.css': /text\/css/, '.png': /image\/png/ };
    for (const asset of assets) {
      assert.match(asset, /^\/docs\/static\//, `${asset} is served here, not by a CDN`);
      const a = await fetch(server.url + asset);
      assert.equal(a.status, 200, asset);
      const type = expected[asset.slice(asset.lastIndexOf('.'))];
      assert.match(a.headers.get('content-type') ?? '', type, asset);
      assert.ok((await a.arrayBuffer()).byteLength > 0, asset);
    }
    // The CSP is the page's, not the API's.
    assert.equal((await fetch(`${server.url}/healthz`)).headers.get('content-security-policy'), null);
  });

  it('shows the same document as /openapi.json', async () => {
    const [shown, served] = await Promise.all(
      [`${server.url}/docs/json`, `${server.url}/openapi.json`].map((u) => fetch(u).then((r) => r.json() as Promise<{ paths: Record<string, unknown> }>)),
    );
    assert.deepEqual(shown, served);
    assert.ok(Object.keys(served.paths).includes('/v1/images/editing/expand'));
    assert.ok(!Object.keys(served.paths).some((p) => p.startsWith('/docs')), 'the reference is not in the document');
  });

  it('in Chromium: renders every path, loads nothing from elsewhere, breaks no CSP rule, and "Try it out" works with a token', async () => {
    const page: Page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requests: { url: string; authorization?: string }[] = [];
    page.on('request', (r) => requests.push({ url: r.url(), authorization: r.headers().authorization }));
    const problems: string[] = [];
    page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    await page.addInitScript(`
      window.__violations = [];
      document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
    `);
    await page.goto(`${server.url}/docs`);
    await page.waitForSelector('.opblock');

    const document = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, object> };
    const shownPaths = new Set((await page.locator('.opblock-summary-path').allInnerTexts()).map((p) => p.replace(/\u200b/g, '').trim()));
    assert.deepEqual([...shownPaths].sort(), Object.keys(document.paths).sort());

    // Authorize with a token from `outpaint token`, then list tasks from the page.
    const made = await runCli(['token', '--access-key', keys.access_key, '--secret-key-stdin'], { input: keys.secret_key });
    assert.equal(made.code, 0, made.stderr);
    const token = made.stdout.trim();
    await page.locator('button.authorize').first().click();
    const bearer = page.locator('.auth-container', { hasText: '(http, Bearer)' });
    await bearer.locator('input').fill(token);
    await bearer.locator('button.authorize').click();
    await page.locator('button.btn-done').first().click();
    const list = page.locator('.opblock-get', { hasText: 'List tasks' });
    await list.locator('.opblock-summary').click();
    await list.locator('button.execute').click();
    const status = list.locator('.live-responses-table tbody .response-col_status').first();
    await status.waitFor();
    assert.equal((await status.innerText()).trim(), '200');
    const listed = requests.find((r) => r.url.startsWith(`${server.url}/v1/images/editing/expand`));
    assert.equal(listed?.authorization, `Bearer ${token}`);

    const elsewhere = requests.filter((r) => !r.url.startsWith(`${server.url}/`)).map((r) => r.url);
    assert.deepEqual(elsewhere, [], 'every request goes to the server itself');
    assert.deepEqual(await page.evaluate('window.__violations'), [], 'no CSP violation');
    assert.deepEqual(problems, []);
    await page.close();
  });
});
