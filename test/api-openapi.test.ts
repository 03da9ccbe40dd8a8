import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ERRORS } from '../src/contract/errors.js';
import { call, startApi, type TestApi } from './support/http.js';

// dist/test/<this>.js → the repository root. The contract the registry is held against is the
// repository's own copy: a clone stands alone.
const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const CONTRACT = path.join(REPO_ROOT, 'docs', 'kling-api.md');

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

  it('describes every route the server answers, each with its parameters, body and responses as schemas', () => {
    const operations = Object.entries(doc.paths as Record<string, Record<string, any>>).flatMap(([p, ops]) =>
      Object.entries(ops).map(([m, op]) => ({ route: `${m.toUpperCase()} ${p}`, op })),
    );
    assert.deepEqual(operations.map((o) => o.route).sort(), [
      'GET /healthz',
      'GET /metrics',
      'GET /openapi.json',
      'GET /readyz',
      'GET /v1/files/{key}',
      'GET /v1/images/editing/expand',
      'GET /v1/images/editing/expand/{id}',
      'GET /v1/images/editing/expand/{id}/events',
      'POST /v1/images/editing/expand',
      'POST /v1/images/editing/expand/{id}/cancel',
    ]);
    for (const { route, op } of operations) {
      assert.ok(op.summary, `${route}: summary`);
      assert.ok(op.responses['200'], `${route}: 200`);
      for (const [status, response] of Object.entries(op.responses as Record<string, any>)) {
        const [content] = Object.values(response.content ?? {}) as any[];
        assert.ok(content?.schema?.type ?? content?.schema?.anyOf, `${route}: ${status} has a schema`);
        if (status !== '200') assert.deepEqual(Object.keys(content.schema.properties).sort(), ['code', 'message', 'request_id'], `${route} ${status}`);
      }
      for (const param of op.parameters ?? []) assert.ok(param.schema?.type, `${route}: parameter ${param.name} has a schema`);
      for (const name of (route.match(/\{(\w+)\}/g) ?? []).map((m) => m.slice(1, -1))) {
        assert.ok(op.parameters.some((p: any) => p.in === 'path' && p.name === name && p.required), `${route}: path parameter ${name}`);
      }
      const authenticated = route.includes('/v1/images/');
      assert.equal(Boolean(op.security), authenticated, `${route}: security`);
      if (authenticated) assert.ok(op.responses['401'] && op.responses['429'], `${route}: 401 and 429`);
    }
    const create = operations.find((o) => o.route === 'POST /v1/images/editing/expand')!.op;
    assert.equal(create.requestBody.required, true);
    const data = create.responses['200'].content['application/json'].schema.properties.data;
    assert.deepEqual(Object.keys(data.properties).sort(), ['created_at', 'task_id', 'task_info', 'task_status', 'updated_at']);
    const one = operations.find((o) => o.route === 'GET /v1/images/editing/expand/{id}')!.op;
    const task = one.responses['200'].content['application/json'].schema.properties.data;
    assert.ok(task.properties.task_result.properties.images.items.properties.watermark_url, 'task object down to watermark_url');
    assert.deepEqual(doc.components.securitySchemes.bearer, {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT (HS256, iss = access key) or the secret key itself',
      description: 'A token from `outpaint token --access-key AK` (it asks for the secret key), or the secret key itself.',
    });
  });

  it('documents cancel and the event stream: its media type, Last-Event-ID and the access_token parameter', () => {
    const cancel = doc.paths['/v1/images/editing/expand/{id}/cancel'].post;
    assert.ok(cancel.responses['200'].content['application/json'].schema.properties.data.properties.task_status_msg);
    assert.ok(cancel.responses['400'] && cancel.responses['404'], 'finished (1201) and not found (1203)');
    assert.match(cancel.description, /canceled/);
    const events = doc.paths['/v1/images/editing/expand/{id}/events'].get;
    assert.ok(events.responses['200'].content['text/event-stream'].schema);
    const params = Object.fromEntries(events.parameters.map((p: any) => [`${p.in} ${p.name}`, p]));
    assert.ok(params['header last-event-id'] && params['path id'], Object.keys(params).join(', '));
    // The query parameter is described as what it is, a way to send the credential (swagger then leaves it
    // out of the parameters).
    assert.deepEqual(events.security, [{ bearer: [] }, { accessToken: [] }]);
    const { type, in: where, name } = doc.components.securitySchemes.accessToken;
    assert.deepEqual([type, where, name], ['apiKey', 'query', 'access_token']);
    assert.ok(events.responses['401'] && events.responses['404']);
  });

  it('validates what it documents: the document and the validator share their schemas', async () => {
    const body = doc.paths['/v1/images/editing/expand'].post.requestBody.content['application/json'].schema;
    const token = await (await api.newAccount()).token();
    const res = await call(api.url, 'POST', '/v1/images/editing/expand', {
      token,
      body: { image: 'x', up_expansion_ratio: body.properties.up_expansion_ratio.maximum + 0.5 },
    });
    assert.deepEqual([res.body.code, res.body.message], [1201, `up_expansion_ratio: 2.5 is outside [0, ${body.properties.up_expansion_ratio.maximum}]`]);
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
