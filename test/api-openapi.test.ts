import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../src/errors.js';
import { call, startApi, type TestApi } from './support/http.js';

// dist/test/<this>.js → the repository root; CI checks the repo out with ../shared beside it.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONTRACT = path.join(REPO_ROOT, '..', 'shared', 'kling-api.md');

describe('the error registry', () => {
  it('is exactly the contract’s table of error codes (HTTP status and code)', async () => {
    const text = await readFile(CONTRACT, 'utf8');
    const section = text.slice(text.indexOf('## Error codes'));
    const fromContract = new Map<number, number>();
    for (const line of section.split('\n')) {
      const m = /^\|\s*(\d{3})\s*\|\s*([\d\s/]+?)\s*\|/.exec(line);
      if (!m) continue;
      for (const code of m[2].split('/').map((c) => Number(c.trim()))) fromContract.set(code, Number(m[1]));
    }
    assert.ok(fromContract.size >= 20, `parsed ${fromContract.size} codes from ${CONTRACT}`);
    const fromRegistry = new Map(Object.values(ERRORS).map((e) => [e.code as number, e.status as number]));
    assert.deepEqual([...fromRegistry].sort(), [...fromContract].sort());
  });
});

describe('GET /openapi.json', () => {
  let api: TestApi;
  let doc: any;
  before(async () => {
    api = await startApi();
    const res = await call(api.url, 'GET', '/openapi.json');
    assert.equal(res.status, 200);
    doc = res.body;
  });
  after(() => api.close());

  it('is OpenAPI 3.1', () => {
    assert.equal(doc.openapi, '3.1.0');
  });

  it('lists every route with its schemas', () => {
    const routes = Object.entries(doc.paths as Record<string, object>).flatMap(([p, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`),
    );
    for (const route of [
      'POST /v1/images/editing/expand',
      'GET /v1/images/editing/expand',
      'GET /v1/images/editing/expand/{id}',
      'GET /healthz',
      'GET /readyz',
    ]) {
      assert.ok(routes.includes(route), `${route} in ${routes.join(', ')}`);
    }
    assert.ok(routes.some((r) => r.startsWith('GET /v1/files/')), 'the file route');
    const create = doc.paths['/v1/images/editing/expand'].post;
    const body = create.requestBody.content['application/json'].schema;
    assert.deepEqual(body.required, ['image']);
    assert.deepEqual([body.properties.n.minimum, body.properties.n.maximum], [1, 9]);
    assert.deepEqual([body.properties.up_expansion_ratio.minimum, body.properties.up_expansion_ratio.maximum], [0, 2]);
    assert.equal(body.properties.prompt.maxLength, 2500);
    const list = doc.paths['/v1/images/editing/expand'].get;
    const names = list.parameters.map((p: { name: string }) => p.name).sort();
    assert.deepEqual(names, ['external_task_id', 'pageNum', 'pageSize']);
    assert.ok(create.responses['200'], 'success response');
    assert.ok(create.responses['400'] && create.responses['401'] && create.responses['429'] && create.responses['503']);
  });

  it('names every error code of the registry', () => {
    const text = JSON.stringify(doc);
    for (const e of Object.values(ERRORS)) {
      assert.ok(doc.info.description.includes(`${e.code} (HTTP ${e.status})`), `${e.code} in the description`);
    }
    const errorSchema = doc.paths['/v1/images/editing/expand'].post.responses['400'].content['application/json'].schema;
    assert.deepEqual(errorSchema.properties.code.enum, Object.values(ERRORS).map((e) => e.code));
    assert.ok(text.includes('1303 too many tasks running at once'));
  });
});
