// Unit tests of src/layout.ts (the lineage graph's layered layout), run with `jlpm test` (node --test).
// The module is pure TypeScript with no imports: transpiled in memory to CommonJS and loaded.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { test } from 'node:test';

const require = createRequire(import.meta.url);
const ts = require('typescript');
const source = readFileSync(new URL('../src/layout.ts', import.meta.url), 'utf8');
const { outputText } = ts.transpileModule(source, {
  compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2018 }
});
const mod = { exports: {} };
new Function('module', 'exports', outputText)(mod, mod.exports);
const { layout, layers, parseRef } = mod.exports;

const chain = [
  { from: 'model:digits@2', relation: 'trained_by', to: 'run:train@5' },
  { from: 'run:train@5', relation: 'read', to: 'dataset:digits@3' },
  { from: 'dataset:digits@3', relation: 'schema', to: 'schema:digits@1' },
  { from: 'dataset:digits@3', relation: 'source', to: 'file:raw/a.csv' }
];

test('parseRef splits kind, name and version', () => {
  assert.deepEqual(parseRef('table:sensors@4'), { kind: 'table', name: 'sensors', version: 4 });
  assert.deepEqual(parseRef('dataset:a/b'), { kind: 'dataset', name: 'a/b', version: null });
  assert.deepEqual(parseRef('model:x@champion'), { kind: 'model', name: 'x@champion', version: null });
});

test('a chain gets one layer per step from the root', () => {
  const l = layers('model:digits@2', chain);
  assert.equal(l.get('model:digits@2'), 0);
  assert.equal(l.get('run:train@5'), 1);
  assert.equal(l.get('dataset:digits@3'), 2);
  assert.equal(l.get('schema:digits@1'), 3);
  assert.equal(l.get('file:raw/a.csv'), 3);
});

test('a shortcut edge puts its target after the longer path', () => {
  const edges = [
    { from: 'model:m@1', relation: 'trained_on', to: 'table:t@1' },
    { from: 'model:m@1', relation: 'run', to: 'run:r@1' },
    { from: 'run:r@1', relation: 'read', to: 'table:t@1' },
    { from: 'table:t@1', relation: 'schema', to: 'schema:t@1' },
    { from: 'alias:m/champion@1', relation: 'points_at', to: 'model:m@1' },
    { from: 'alias:m/champion@1', relation: 'moved_by', to: 'run:r@1' }
  ];
  const l = layers('model:m@1', edges);
  assert.deepEqual(
    ['alias:m/champion@1', 'model:m@1', 'run:r@1', 'table:t@1', 'schema:t@1'].map(id => l.get(id)),
    [-1, 0, 1, 2, 3]
  );
  const cycle = [
    { from: 'a:a@1', relation: 'r', to: 'b:b@1' },
    { from: 'b:b@1', relation: 'r', to: 'a:a@1' }
  ];
  assert.equal(layers('a:a@1', cycle).size, 2); // ends
});

test('upstream and downstream nodes land left and right of the root', () => {
  const g = layout('run:train@5', chain, 100, 10);
  const at = Object.fromEntries(g.nodes.map(n => [n.id, n]));
  assert.equal(at['model:digits@2'].x, 0);
  assert.equal(at['run:train@5'].x, 100);
  assert.equal(at['dataset:digits@3'].x, 200);
  // two nodes in the last layer are stacked in name order
  assert.deepEqual([at['file:raw/a.csv'].y, at['schema:digits@1'].y], [0, 10]);
  assert.equal(g.width, 400);
  assert.equal(g.height, 20);
});

test('edges run between their nodes; duplicates and unreachable nodes are dropped', () => {
  const g = layout('model:digits@2', [...chain, chain[0], { from: 'x:y@1', relation: 'r', to: 'x:z@1' }]);
  assert.equal(g.edges.length, 4);
  assert.equal(g.nodes.length, 5);
  const e = g.edges[0];
  assert.deepEqual([e.x1, e.x2], [0, 220]);
});

test('a root without edges is laid out alone', () => {
  const g = layout('table:t@1', []);
  assert.deepEqual(g.nodes.map(n => [n.id, n.x, n.y]), [['table:t@1', 0, 0]]);
});
