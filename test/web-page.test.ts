/**
 * The web playground in a real browser (Debian's Chromium driven by playwright-core) against a real
 * `outpaint serve`: signing in with keys made by the CLI, a real image file, dragging the frame,
 * progress, results, download, cancel, errors, the keyboard, and a phone-sized screen. Screenshots go
 * to test-results/ (not committed) for people to look at.
 *
 * Chromium must start (from /usr/bin/chromium, or CHROMIUM_PATH): when it cannot, these tests fail, saying how
 * to install it (.ci/run does).
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import sharp from 'sharp';
import { expansionGeometry } from '../src/contract/geometry.js';
import { api, createKeys, startServer, stopServer, tempDataDir, token, waitFor, type Keys, type ServerProcess } from './support/outpaint-process.js';
import { launchChromium } from './support/browser.js';
import { sceneJpeg, scenePng } from './support/pictures.js';

// Names of the page's world, for the functions that run inside the browser (this file compiles for Node).
declare const document: any;
declare const window: any;
declare const localStorage: any;
declare const sessionStorage: any;
declare const MutationObserver: any;
type HTMLImageElement = { complete: boolean; naturalWidth: number; naturalHeight: number };

const RESULTS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'test-results');

let data: Awaited<ReturnType<typeof tempDataDir>>;
let server: ServerProcess;
let keys: Keys;
// Started once; every browser test awaits it, so that each one fails (never skips) when Chromium cannot start.
const browserReady: Promise<Browser> = launchChromium();
browserReady.catch(() => undefined);
const files: Record<string, string> = {};

before(async () => {
  data = await tempDataDir();
  keys = await createKeys(data.dir, 'browser');
  server = await startServer({
    OUTPAINT_DATA_DIR: data.dir,
    OUTPAINT_PORT: '0',
    // One engine thread: a big task stays processing long enough to be cancelled from the list.
    OUTPAINT_WORKERS: '1',
    OUTPAINT_QUALITY: 'balanced',
  });
  await mkdir(RESULTS_DIR, { recursive: true });
  files.photo = path.join(data.dir, 'photo.jpg');
  await writeFile(files.photo, await sceneJpeg(800, 600, 11));
  files.big = path.join(data.dir, 'big.png');
  await writeFile(files.big, await scenePng(1600, 1200, 12));
  files.tooSmall = path.join(data.dir, 'small.png');
  await writeFile(files.tooSmall, await scenePng(299, 400, 13));
});

after(async () => {
  await browserReady.then((b) => b.close(), () => undefined);
  if (server) await stopServer(server);
  await data?.cleanup();
});

/** A page at the given size that fails the test on any console error (a CSP violation is one). */
async function openPage(width: number, height: number): Promise<{ page: Page; context: BrowserContext; problems: string[] }> {
  const browser = await browserReady;
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  return { page, context, problems };
}

async function signInWithKeys(page: Page): Promise<void> {
  await page.fill('#access-key', keys.access_key);
  await page.fill('#secret-key', keys.secret_key);
  await page.click('#sign-in-button');
  await page.waitForSelector('#workspace:not([hidden])');
}

/** Reads the page's ratio fields. */
async function ratiosShown(page: Page) {
  const read = async (side: string) => Number(await page.inputValue(`#ratio-${side}`));
  return { up: await read('up'), down: await read('down'), left: await read('left'), right: await read('right') };
}

describe('the web playground', () => {
  it('is served at / with a strict Content-Security-Policy and nothing from elsewhere', async () => {
    const res = await fetch(`${server.url}/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    const csp = res.headers.get('content-security-policy') ?? '';
    for (const directive of ["default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) {
      assert.ok(csp.includes(directive), `${directive} in ${csp}`);
    }
    assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), csp);
    const html = await res.text();
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'no external assets');
    assert.ok(!/<script>|<style>|style="| on[a-z]+="/.test(html), 'no inline script, style or handler');
    const js = await fetch(`${server.url}/main.js`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get('content-type') ?? '', /javascript/);
    const missing = await fetch(`${server.url}/no-such-file.js`);
    assert.deepEqual([missing.status, ((await missing.json()) as any).code], [404, 1203]);
  });

  it('signs in, takes a real file, drags the right border to 1.5×, shows progress to 100 and a result to download', async () => {
    const { page, context, problems } = await openPage(1280, 800);
    const response = await page.goto(server.url);
    assert.equal(response?.status(), 200);
    // A wrong secret is refused in words next to the form.
    await page.fill('#access-key', keys.access_key);
    await page.fill('#secret-key', 'not-the-secret-key-at-all');
    await page.click('#sign-in-button');
    await page.waitForSelector('#sign-in-error:not([hidden])');
    assert.match(await page.textContent('#sign-in-error') ?? '', /signature does not match/);
    problems.length = 0; // the browser logs the 401 itself
    await signInWithKeys(page);
    assert.match((await page.textContent('#signed-in-as')) ?? '', new RegExp(`as ${keys.access_key.slice(0, 8)}`));
    // The keys stay in the tab's sessionStorage only.
    assert.equal(await page.evaluate(() => localStorage.length), 0);
    assert.ok(await page.evaluate(() => sessionStorage.getItem('outpaint.credentials')));

    await page.setInputFiles('#file-input', files.photo);
    await page.waitForSelector('#stage:not([hidden])');
    await page.waitForFunction(() => document.getElementById('original').complete);
    assert.match((await page.textContent('#output-size')) ?? '', /Output 800 × 600 px/);
    assert.equal(await page.isDisabled('#submit'), true, 'nothing to expand yet');

    // Drag the right border by half the picture's width on screen.
    const picture = (await page.locator('#original').boundingBox())!;
    const handle = (await page.locator('.handle.right').boundingBox())!;
    const startX = handle.x + handle.width / 2;
    const startY = handle.y + handle.height / 2;
    await page.mouse.move(startX, startY);
    await page.mouse.down();
    await page.mouse.move(startX + picture.width * 0.25, startY, { steps: 5 });
    await page.mouse.move(startX + picture.width * 0.5, startY, { steps: 5 });
    await page.mouse.up();
    const ratios = await ratiosShown(page);
    assert.ok(Math.abs(ratios.right - 0.5) < 0.03, `right ratio ${ratios.right}`);
    assert.deepEqual([ratios.up, ratios.down, ratios.left], [0, 0, 0]);
    const geometry = expansionGeometry(800, 600, ratios);
    assert.match((await page.textContent('#output-size')) ?? '', new RegExp(`Output ${geometry.width} × 600 px`));
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-desktop-frame.png') });

    // Every value the progress bar shows, as the events arrive.
    await page.evaluate(() => {
      const seen: number[] = [];
      (window as unknown as { progressSeen: number[] }).progressSeen = seen;
      const bar = document.getElementById('progress')!;
      new MutationObserver(() => seen.push(Number(bar.getAttribute('aria-valuenow')))).observe(bar, { attributes: true, attributeFilter: ['aria-valuenow'] });
    });
    await page.fill('#n', '2');
    await page.check('#watermark');
    await page.click('#submit');
    await page.waitForSelector('#task:not([hidden])');
    await page.waitForFunction(() => document.getElementById('progress')!.getAttribute('aria-valuenow') === '100', undefined, { timeout: 60_000 });
    const seen = await page.evaluate(() => (window as unknown as { progressSeen: number[] }).progressSeen);
    assert.ok(seen.some((v) => v > 0 && v < 100), `progress seen: ${seen.join(', ')}`);
    assert.deepEqual(seen, [...seen].sort((a, b) => a - b), 'progress never goes back');
    assert.match((await page.textContent('#task-status')) ?? '', /Done: 2 images/);

    // The results load, at the size the geometry says.
    await page.waitForFunction(() => [...(document.querySelectorAll('.result img') as HTMLImageElement[])].every((i) => i.complete && i.naturalWidth > 0) && document.querySelectorAll('.result').length === 2);
    const widths = await page.$$eval('.result img', (imgs) => (imgs as HTMLImageElement[]).map((i) => [i.naturalWidth, i.naturalHeight]));
    assert.deepEqual(widths, [[geometry.width, geometry.height], [geometry.width, geometry.height]]);
    assert.equal(await page.locator('.result .button', { hasText: 'Watermarked' }).count(), 2);
    // The before/after comparison shows the original where it sits in the result.
    await page.waitForSelector('#compare:not([hidden])');
    // Past the original's right edge (at 2/3), the slider shows the new area empty on the "before" side.
    await page.fill('#compare-range', '85');
    assert.equal(await page.$eval('#compare-before', (e) => (e as unknown as { style: { clipPath: string } }).style.clipPath), 'inset(0px 15% 0px 0px)');
    await page.locator('#results').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-desktop-result.png') });
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-desktop-full.png'), fullPage: true });

    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('.result .button', { hasText: 'Download' }).first().click()]);
    const saved = path.join(data.dir, 'downloaded.png');
    await download.saveAs(saved);
    assert.match(download.suggestedFilename(), /^outpaint-.+-0\.png$/);
    const meta = await sharp(await readFile(saved)).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', geometry.width, geometry.height]);

    // "Use as the new input" makes the result the picture to expand.
    await page.locator('.result button', { hasText: 'Use as input' }).first().click();
    await page.waitForFunction((w) => (document.getElementById('output-size')?.textContent ?? '').includes(`Output ${w} ×`), geometry.width);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('takes a dropped or a pasted picture too, and holds a border at the 3× limit however far it is dragged', async () => {
    const { page, context, problems } = await openPage(1280, 800);
    await page.goto(server.url);
    await signInWithKeys(page);
    const bytes = [...(await readFile(files.photo))];
    // A file dropped on the drop zone, as a file manager does it.
    await page.evaluate((b) => {
      const transfer = new (globalThis as any).DataTransfer();
      transfer.items.add(new (globalThis as any).File([new Uint8Array(b)], 'dropped.jpg', { type: 'image/jpeg' }));
      document.getElementById('drop-zone').dispatchEvent(new (globalThis as any).DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction(() => document.getElementById('drop-title')?.textContent === 'dropped.jpg · 800 × 600 px');
    // A picture pasted from the clipboard.
    await page.evaluate((b) => {
      const transfer = new (globalThis as any).DataTransfer();
      transfer.items.add(new (globalThis as any).File([new Uint8Array(b)], 'pasted.jpg', { type: 'image/jpeg' }));
      document.dispatchEvent(new (globalThis as any).ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    }, bytes);
    await page.waitForFunction(() => document.getElementById('drop-title')?.textContent === 'pasted.jpg · 800 × 600 px');
    await page.waitForFunction(() => document.getElementById('original').complete);

    // Dragged three picture widths to the right: the border stops at 2× (the area is then 3×).
    const picture = (await page.locator('#original').boundingBox())!;
    const handle = (await page.locator('.handle.right').boundingBox())!;
    await page.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await page.mouse.down();
    await page.mouse.move(handle.x + picture.width * 3, handle.y + handle.height / 2, { steps: 10 });
    assert.match((await page.textContent('#frame-note')) ?? '', /area limit/, 'said while dragging');
    await page.mouse.up();
    assert.deepEqual(await ratiosShown(page), { up: 0, down: 0, left: 0, right: 2 });
    assert.match((await page.textContent('#output-size')) ?? '', /Output 2400 × 600 px · 3\.00× the area/);
    // Then the top border cannot move at all: any growth up would break the area rule.
    await page.focus('.handle.top');
    await page.keyboard.press('ArrowUp');
    assert.equal((await ratiosShown(page)).up, 0);
    // A typed value the API would refuse gets the API's own message, and Submit waits.
    await page.fill('#ratio-up', '0.5');
    assert.match((await page.textContent('#ratios-error')) ?? '', /^expansion ratios: .* = 4\.5 exceeds the maximum of 3$/);
    assert.equal(await page.isDisabled('#submit'), true);
    await page.fill('#ratio-up', '0');
    assert.equal(await page.isDisabled('#submit'), false);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('pages through the task list and opens a past task', async () => {
    const bearer = await token(keys);
    // Enough tasks for two pages of 10, cancelled at once so the engine is not kept busy.
    const image = (await readFile(files.photo)).toString('base64');
    for (let i = 0; i < 11; i++) {
      const created = await api(server.url, 'POST', '/v1/images/editing/expand', bearer, { image, left_expansion_ratio: 0.2 });
      await api(server.url, 'POST', `/v1/images/editing/expand/${created.body.data.task_id}/cancel`, bearer);
    }
    const { page, context, problems } = await openPage(1280, 800);
    await page.goto(server.url);
    await signInWithKeys(page);
    await page.locator('.task-row').first().waitFor();
    assert.equal(await page.locator('.task-row').count(), 10);
    assert.equal(await page.isDisabled('#history-prev'), true);
    const firstPage = await page.$$eval('.task-row', (rows) => rows.map((r) => r.getAttribute('data-task-id')));
    await page.click('#history-next');
    await page.waitForFunction(() => document.getElementById('history-page')?.textContent === 'page 2');
    const secondPage = await page.$$eval('.task-row', (rows) => rows.map((r) => r.getAttribute('data-task-id')));
    assert.ok(secondPage.length > 0 && secondPage.every((id) => !firstPage.includes(id)), 'page 2 holds other tasks');
    // The oldest tasks are the ones the first test made: open one that succeeded.
    const done = page.locator('.task-row.status-succeed').last();
    await done.waitFor();
    const id = await done.getAttribute('data-task-id');
    await done.locator('button', { hasText: 'Open' }).click();
    await page.waitForFunction((taskId) => document.getElementById('task-title')?.textContent === `Task ${taskId}`, id);
    await page.waitForSelector('#results:not([hidden]) .result img');
    assert.match((await page.textContent('#task-status')) ?? '', /^Done: \d images?$/);
    await page.click('#history-prev');
    await page.waitForFunction(() => document.getElementById('history-page')?.textContent === 'page 1');
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('shows a clear error for a 299 px image before anything is uploaded', async () => {
    const { page, context } = await openPage(1280, 800);
    await page.goto(server.url);
    await signInWithKeys(page);
    const posts: string[] = [];
    page.on('request', (r) => r.method() === 'POST' && posts.push(r.url()));
    await page.setInputFiles('#file-input', files.tooSmall);
    await page.waitForSelector('#image-error:not([hidden])');
    assert.equal(await page.textContent('#image-error'), 'image: width 299 px is below the minimum of 300 px');
    assert.equal(await page.isDisabled('#submit'), true);
    assert.deepEqual(posts, [], 'nothing was sent');
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-desktop-error.png') });
    await context.close();
  });

  it('cancels a running task from the list; an API refusal is shown next to Submit', async () => {
    const { page, context, problems } = await openPage(1280, 800);
    await page.goto(server.url);
    await signInWithKeys(page);
    await page.setInputFiles('#file-input', files.big);
    await page.waitForSelector('#frame-controls:not([hidden])');
    await page.click('[data-preset="16:9"]');
    assert.equal(await page.isDisabled('#submit'), false);
    await page.fill('#n', '6');
    await page.click('#submit');
    await page.waitForFunction(() => /Working: [1-9]/.test(document.getElementById('task-status')?.textContent ?? ''), undefined, { timeout: 30_000 });

    // The account has 9 slots; 6 are in use: another 6 is refused by the API, in its words.
    await page.click('#submit');
    await page.waitForSelector('#submit-error:not([hidden])');
    assert.match((await page.textContent('#submit-error')) ?? '', /too many tasks running at once for this account/);
    problems.length = 0; // the browser logs the 429 itself

    await page.click('#history-refresh');
    const row = page.locator('.task-row.status-processing').first();
    await row.waitFor();
    const taskId = (await row.getAttribute('data-task-id'))!;
    await row.locator('button', { hasText: 'Cancel' }).click();
    await page.locator(`.task-row[data-task-id="${taskId}"] .task-status`, { hasText: 'failed: canceled' }).waitFor();
    await page.waitForFunction(() => document.getElementById('task-status')?.textContent === 'Cancelled');
    const queried = await api(server.url, 'GET', `/v1/images/editing/expand/${taskId}`, await token(keys));
    assert.deepEqual([queried.body.data.task_status, queried.body.data.task_status_msg], ['failed', 'canceled']);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-desktop-cancelled.png'), fullPage: true });
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('works with the keyboard alone: borders move with the arrow keys, Enter submits', async () => {
    const { page, context, problems } = await openPage(1280, 800);
    await page.goto(server.url);
    await signInWithKeys(page);
    await page.setInputFiles('#file-input', files.photo);
    await page.waitForSelector('#stage:not([hidden])');
    await page.focus('.handle.top');
    for (let i = 0; i < 4; i++) await page.keyboard.press('ArrowUp');
    await page.keyboard.press('Tab'); // to the bottom border
    await page.keyboard.press('Shift+ArrowDown');
    assert.deepEqual(await ratiosShown(page), { up: 0.2, down: 0.25, left: 0, right: 0 });
    assert.equal(await page.getAttribute('.handle.top', 'aria-valuenow'), '0.2');
    // End takes a border to its limit: with up 0.2 and down 0.25, left can reach 3 / 1.45 − 1 ≈ 1.068.
    await page.focus('.handle.left');
    await page.keyboard.press('End');
    assert.equal((await ratiosShown(page)).left, 1.068);
    assert.match((await page.textContent('#frame-note')) ?? '', /limit/);
    await page.focus('#n');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#task:not([hidden])');
    await page.waitForFunction(() => /Done|Failed|Cancelled/.test(document.getElementById('task-status')?.textContent ?? ''), undefined, { timeout: 60_000 });
    assert.match((await page.textContent('#task-status')) ?? '', /Done: 1 image/);
    assert.deepEqual(problems, []);
    await context.close();
  });

  it('fits a 375 px phone screen, signed in with an API key', async () => {
    const { page, context, problems } = await openPage(375, 812);
    await page.goto(server.url);
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-phone-sign-in.png') });
    await page.check('input[name=mode][value=api-key]');
    assert.equal(await page.isHidden('#access-key-field'), true);
    await page.fill('#secret-key', keys.secret_key);
    await page.click('#sign-in-button');
    await page.waitForSelector('#workspace:not([hidden])');
    assert.match((await page.textContent('#signed-in-as')) ?? '', /with an API key/);
    await page.setInputFiles('#file-input', files.photo);
    await page.waitForSelector('#stage:not([hidden])');
    await page.click('[data-preset="9:16"]');
    const ratios = await ratiosShown(page);
    assert.ok(ratios.up > 0 && ratios.up === ratios.down, JSON.stringify(ratios));
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(overflow, 0, 'no sideways scrolling');
    await page.locator('#picture-title').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-phone-frame.png') });
    await page.click('#submit');
    await page.waitForFunction(() => document.querySelectorAll('.result img').length > 0, undefined, { timeout: 60_000 });
    await page.waitForFunction(() => [...(document.querySelectorAll('.result img') as HTMLImageElement[])].every((i) => i.complete));
    assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0);
    await page.locator('#results').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-phone-results.png') });
    await page.screenshot({ path: path.join(RESULTS_DIR, 'web-phone-full.png'), fullPage: true });
    // Reloading keeps the tab signed in (sessionStorage); signing out forgets the key.
    await page.reload();
    await page.waitForSelector('#workspace:not([hidden])');
    await page.click('#sign-out');
    assert.equal(await page.evaluate(() => sessionStorage.getItem('outpaint.credentials')), null);
    assert.deepEqual(problems, []);
    await context.close();
  });
});
