/**
 * The arrows between the library's lower layers point one way: util/ imports nothing of the library;
 * optimizers/, models/ and data/ import only util/ (and themselves); sharpness/ may also import
 * optimizers/ (it reuses their ascent rules); no import circle among them. Walks the `import` /
 * `export ... from` statements of the sources, as test/index.test.ts does for the root entry.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/** Which top-level folders of src/ each folder may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  util: [],
  optimizers: ['util'],
  models: ['util'],
  data: ['util'],
  sharpness: ['util', 'optimizers'],
};

/** Relative imports of one file, as paths under src/ with .ts extensions. */
function importsOf(file: string): string[] {
  const source = readFileSync(join(SRC, file), 'utf8');
  const out: string[] = [];
  for (const [, spec] of source.matchAll(/(?:import|export)[^'"]*from\s+'([^']+)'/g)) {
    if (!spec.startsWith('.')) continue;
    out.push(relative(SRC, join(SRC, file, '..', spec.replace(/\.js$/, '.ts'))));
  }
  return out;
}

function filesOf(folder: string): string[] {
  return readdirSync(join(SRC, folder), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(folder, f));
}

test('util, optimizers, models, data and sharpness import only the layers below them', () => {
  const wrong: string[] = [];
  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    for (const file of filesOf(folder)) {
      for (const target of importsOf(file)) {
        const top = target.split('/')[0];
        if (top !== folder && !allowed.includes(top)) wrong.push(`${file} -> ${target}`);
      }
    }
  }
  // Known, owned elsewhere: sharpness/measure.ts takes its record type from experiments/schema.ts
  // until sharpness owns its result types (issue 17, the spectrum work).
  const pending = new Set(['sharpness/measure.ts -> experiments/schema.ts']);
  assert.deepEqual(wrong.filter((w) => !pending.has(w)), []);
});

test('no import circle among those layers', () => {
  const graph = new Map<string, string[]>();
  for (const folder of Object.keys(ALLOWED)) for (const file of filesOf(folder)) graph.set(file, importsOf(file).filter((t) => t.split('/')[0] in ALLOWED));
  const state = new Map<string, 'open' | 'done'>();
  const circles: string[] = [];
  const visit = (node: string, path: string[]): void => {
    if (state.get(node) === 'done') return;
    if (state.get(node) === 'open') {
      circles.push([...path.slice(path.indexOf(node)), node].join(' -> '));
      return;
    }
    state.set(node, 'open');
    for (const next of graph.get(node) ?? []) visit(next, [...path, node]);
    state.set(node, 'done');
  };
  for (const node of graph.keys()) visit(node, []);
  assert.ok(graph.size > 30, `walked ${graph.size} modules`);
  assert.deepEqual(circles, []);
});
