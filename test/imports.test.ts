/**
 * The import graph of src/ points one way and has no cycle.
 *
 * Layer order enforced, top to bottom (a module may import its own folder, or any folder in a
 * LOWER layer, never one in its own layer or above):
 *
 *   node.ts                            the Node entry point (re-exports the browser one)
 *   index.ts                           the browser-safe entry point
 *   cli/                               the command-line program
 *   report/                            HTML/PNG report and the summary tables (reads experiments' records)
 *   analysis/                          statistics over run records (not in every branch yet)
 *   experiments/                       runs, checkpoints, records, summaries
 *   sharpness/                         sharpness measures (may use the optimisers' ascent rules)
 *   optimizers/, data/, models/        the algorithms, datasets and models, independent of each other
 *   backend/                           tfjs backend selection and the wasm training kernels
 *   util/                              shared helpers at the bottom
 *
 * Every import counts: static, `export ... from`, `import type`, dynamic `import()`. The imports are
 * read with the TypeScript compiler's own pre-processor (ts.preProcessFile), which skips comments
 * and strings. A new top-level folder fails the test until it is given a place in LAYERS.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'src');

/** Top-level entries of src/ by layer, top first. */
const LAYERS: readonly (readonly string[])[] = [
  ['node.ts'],
  ['index.ts', 'wasm-kernels.ts'],
  ['cli'],
  ['report'],
  ['analysis'],
  ['experiments'],
  ['sharpness'],
  ['optimizers', 'data', 'models'],
  ['backend'],
  ['util'],
];

/**
 * Known arrows against the order, each to be removed. An entry that no longer occurs fails the test,
 * so the list cannot outlive the fix.
 */
/** Arrows allowed against the order while they are being removed (none now). */
const KNOWN_EXCEPTIONS: ReadonlySet<string> = new Set<string>([]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/** The src/-relative files `file` imports from src/ (package imports are left out). */
function localImports(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  return importedFiles
    .map((f) => f.fileName)
    .filter((spec) => spec.startsWith('.'))
    .map((spec) => {
      const target = resolve(dirname(file), spec.replace(/\.js$/, '.ts'));
      assert.ok(existsSync(target), `${relative(SRC, file)} imports ${spec}, which resolves to no .ts file`);
      return relative(SRC, target);
    });
}

/** The whole graph: src/-relative file -> the src/-relative files it imports. */
function importGraph(): Map<string, string[]> {
  return new Map(sourceFiles(SRC).map((f) => [relative(SRC, f), localImports(f)]));
}

function layerOf(file: string): number {
  const top = file.split('/')[0]!;
  const layer = LAYERS.findIndex((names) => names.includes(top));
  assert.ok(layer >= 0, `src/${top} has no place in the layer order: add it to LAYERS in test/imports.test.ts`);
  return layer;
}

/** Every import that goes to another folder in the same layer or a higher one, as "from -> to". */
function upwardArrows(graph: Map<string, string[]>): string[] {
  const bad: string[] = [];
  for (const [from, targets] of graph) {
    for (const to of targets) {
      const sameFolder = from.split('/')[0] === to.split('/')[0];
      if (!sameFolder && layerOf(to) <= layerOf(from)) bad.push(`${from} -> ${to}`);
    }
  }
  return bad.sort();
}

/** One cycle per strongly connected component of more than one file (or a file importing itself). */
function cycles(graph: Map<string, string[]>): string[][] {
  // Tarjan's algorithm, iterative enough for this graph's depth (a few dozen files per path).
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

test('the walk sees the whole of src/, static, type-only and dynamic imports alike', () => {
  const graph = importGraph();
  assert.ok(graph.size > 80, `walked ${graph.size} files`);
  // Spot checks of each kind of import the graph must contain.
  assert.ok(graph.get('index.ts')?.includes('optimizers/index.ts'), 'export * from');
  assert.ok(graph.get('report/textWidth.ts')?.includes('report/fonts.ts'), 'import type');
  assert.ok(graph.get('cli/commands/report.ts')?.includes('report/index.ts'), 'dynamic import()');
});

test('no import points from a lower layer to a higher one (or sideways between folders of one layer)', () => {
  const arrows = upwardArrows(importGraph());
  const unexpected = arrows.filter((a) => !KNOWN_EXCEPTIONS.has(a));
  assert.deepEqual(unexpected, [], `imports against the layer order ${LAYERS.map((l) => l.join('/')).join(' > ')}`);
  const stale = [...KNOWN_EXCEPTIONS].filter((a) => !arrows.includes(a));
  assert.deepEqual(stale, [], 'this exception is fixed: remove it from KNOWN_EXCEPTIONS');
});

test('the import graph has no cycle', () => {
  assert.deepEqual(cycles(importGraph()), []);
});
