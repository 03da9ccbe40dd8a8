/**
 * The layering, held by reading every import in src/: which folder may import which. A new import that
 * runs against these rules fails here, with the file and the import named.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const SRC = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

interface Import {
  /** The importing file, relative to src/ (e.g. "api/app.ts"). */
  from: string;
  /** A file relative to src/ for relative imports; the package or node: module otherwise. */
  target: string;
  relative: boolean;
  /** The import statement as written. */
  statement: string;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => path.relative(SRC, path.join(e.parentPath ?? e.path, e.name)));
}

async function allImports(): Promise<Import[]> {
  const out: Import[] = [];
  for (const file of await sourceFiles(SRC)) {
    const text = await readFile(path.join(SRC, file), 'utf8');
    // Static imports and re-exports, and dynamic import('…') calls.
    const found = [
      ...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'/gms),
      ...text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g),
    ].map((m) => ({ spec: m[1], statement: m[0].trim() }));
    for (const { spec, statement } of found) {
      const relative = spec.startsWith('.');
      const target = relative
        ? path.relative(SRC, path.resolve(path.join(SRC, path.dirname(file)), spec)).replace(/\.js$/, '.ts')
        : spec;
      out.push({ from: file, target, relative, statement });
    }
  }
  return out;
}

const imports = await allImports();
const area = (file: string) => (file.includes('/') ? file.slice(0, file.indexOf('/')) : file.replace(/\.ts$/, ''));
const inArea = (name: string) => imports.filter((i) => area(i.from) === name);
const describeImport = (i: Import) => `${i.from} imports ${i.target}`;

/** Fails with every import of `name`'s files that `allowed` refuses. */
function onlyImports(name: string, allowed: (i: Import) => boolean): void {
  const found = inArea(name);
  assert.ok(found.length > 0, `src/${name} has imports to check`);
  assert.deepEqual(found.filter((i) => !allowed(i)).map(describeImport), []);
}

describe('import rules', () => {
  it('reads the imports of every source file', () => {
    assert.ok(imports.length > 100, `${imports.length} imports`);
    assert.ok(imports.some((i) => i.from === 'server.ts' && i.target === 'roles/api.ts'));
  });

  it("the engine imports nothing but itself and the contract's geometry (arithmetic with no imports)", () => {
    onlyImports('engine', (i) => i.relative && (area(i.target) === 'engine' || i.target === 'contract/geometry.ts'));
    assert.deepEqual(imports.filter((i) => i.from === 'contract/geometry.ts').map(describeImport), []);
  });

  it('the wire contract imports only itself and TypeBox, nothing Node-only (the SDK and the page run it in browsers)', () => {
    onlyImports('contract', (i) => (i.relative ? area(i.target) === 'contract' : i.target.startsWith('@sinclair/typebox')));
  });

  it('the web page imports only itself and the wire contract (no second copy of the task shape, no package)', () => {
    onlyImports('web', (i) => i.relative && ['web', 'contract'].includes(area(i.target)));
    // Only the contract's modules without TypeBox at run time (type imports are erased by the bundler).
    const runtime = inArea('web').filter((i) => area(i.target) === 'contract' && i.target === 'contract/schemas.ts');
    for (const i of runtime) assert.ok(/import type /.test(i.statement), `${describeImport(i)} must be \`import type\``);
  });

  it("the SDK imports only itself and the contract's paths: no package, nothing Node-only (it runs in browsers)", () => {
    // Not the schemas either: the SDK's types are its own (Kling's, Outpaint's fields optional), so a
    // consumer needs no TypeBox; test/sdk-consumer.test.ts holds the contract's types assignable to them.
    onlyImports('client', (i) => i.relative && (area(i.target) === 'client' || i.target === 'contract/paths.ts'));
    assert.deepEqual(imports.filter((i) => i.from === 'contract/paths.ts').map(describeImport), []);
  });

  it('nothing outside the SDK and the tests imports the SDK (it is a client of the server, not a part)', () => {
    assert.deepEqual(imports.filter((i) => i.relative && area(i.target) === 'client' && area(i.from) !== 'client').map(describeImport), []);
  });

  it('nothing outside the page imports the page', () => {
    assert.deepEqual(imports.filter((i) => i.relative && area(i.target) === 'web' && area(i.from) !== 'web').map(describeImport), []);
  });

  it('storage imports the domain models and util, never the engine, the API, the roles or the task logic', () => {
    onlyImports(
      'storage',
      (i) =>
        !i.relative ||
        ['storage', 'util', 'config'].includes(area(i.target)) ||
        i.target === 'tasks/model.ts' ||
        i.target === 'accounts/model.ts',
    );
  });

  it('the HTTP layer reaches storage only through the port types, never an adapter', () => {
    const adapters = inArea('api').filter((i) => /^storage\/(sqlite|local|postgres|s3)\//.test(i.target) || i.target === 'storage/open.ts');
    assert.deepEqual(adapters.map(describeImport), []);
  });

  it('the domain (tasks, accounts, callbacks, image) never imports the API, the roles, the CLI or an adapter', () => {
    for (const name of ['tasks', 'accounts', 'callbacks', 'image']) {
      onlyImports(
        name,
        (i) => !i.relative || (!['api', 'roles', 'cli', 'server'].includes(area(i.target)) && !/^storage\/(sqlite|local|postgres|s3)\//.test(i.target)),
      );
    }
  });

  it('only the CLI and the composition root import the roles and storage implementations', () => {
    const wiring = imports.filter(
      (i) => i.relative && (area(i.target) === 'roles' || i.target === 'server.ts' || i.target === 'storage/open.ts'),
    );
    assert.deepEqual(
      wiring.filter((i) => !['cli', 'roles', 'server'].includes(area(i.from)) && area(i.from) !== 'storage').map(describeImport),
      [],
    );
  });

  it('the metrics import prom-client and the storage ports, nothing else (the parts that observe call them)', () => {
    onlyImports('metrics', (i) => (i.relative ? /^(storage|metrics)\/[a-z-]+\.ts$/.test(i.target) : i.target === 'prom-client'));
  });

  it('nothing outside the CLI imports the CLI', () => {
    assert.deepEqual(imports.filter((i) => i.relative && area(i.target) === 'cli' && area(i.from) !== 'cli').map(describeImport), []);
  });
});
