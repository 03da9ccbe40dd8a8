/** The README stays true to the code: its settings table is the one in src/config.ts. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { SETTINGS } from '../src/config.js';

const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');

test('the README lists every setting with its default, and no other', () => {
  const rows = new Map<string, string>();
  for (const m of readme.matchAll(/^\| `(OUTPAINT_[A-Z0-9_]+)` \|\s*`?([^|`]*?)`?\s*\|/gm)) rows.set(m[1], m[2].trim());
  assert.deepEqual([...rows.keys()].sort(), Object.keys(SETTINGS).sort());
  for (const [name, setting] of Object.entries(SETTINGS)) {
    assert.equal(rows.get(name), setting.default, `${name}: README default`);
  }
});

test('the README gives the two set-up commands that package.json defines', async () => {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.match(readme, /npm install && npm start/);
  assert.match(readme, /npm test/);
  assert.ok(pkg.scripts.start && pkg.scripts.test && pkg.scripts.outpaint);
});

test('the README points at the web page, the API reference, the OpenAPI document and the health check', async () => {
  const { DOCS_PATH, HEALTH_PATH, OPENAPI_PATH, WEB_PATH } = await import('../src/contract/paths.js');
  for (const p of [WEB_PATH, DOCS_PATH, OPENAPI_PATH, HEALTH_PATH]) assert.ok(readme.includes(`**\`${p}\`**`), `README names ${p}`);
  assert.match(readme, /outpaint token --access-key/);
  assert.doesNotMatch(readme, /createHmac/, 'no hand-made token');
});
