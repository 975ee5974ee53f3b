/** The package's public entry points export what the README documents, and the browser entry pulls in no Node API. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as root from '../src/index.js';
import * as node from '../src/node.js';

test('the root entry exports the optimisers, the step, the sharpness measures, models and moons', () => {
  for (const name of [
    'SAM',
    'ASAM',
    'GSAM',
    'AdaptiveGSAM',
    'LookSAM',
    'MomentumSAM',
    'ESAM',
    'SharpnessAwareOptimizer',
    'sharpnessAwareStep',
    'exampleLosses',
    'methodRow',
    'disposeMethodOptimizer',
    'proportionalRho',
    'SharpnessMetricsCallback',
    'hessianTopEigenvalue',
    'hessianTrace',
    'hessianTopEigenvalues',
    'hessianSpectralDensity',
    'hessianLayerSharpness',
    'measureSharpness',
    'surrogateGap',
    'adaptiveSharpness',
    'lossLandscape1D',
    'lossLandscape2D',
    'modelObjective',
    'createMlp',
    'createCnn',
    'makeMoons',
  ]) {
    assert.equal(typeof (root as Record<string, unknown>)[name], 'function', `${name} is exported`);
  }
});

test('the node entry adds backend, data files, runs and reports', () => {
  for (const name of ['initBackend', 'loadEmbeddedMnist', 'loadIdxDataset', 'runSpec', 'runMany', 'writeReport', 'loadModel', 'SAM']) {
    assert.equal(typeof (node as Record<string, unknown>)[name], 'function', `${name} is exported`);
  }
});

test('package.json points its entries at the built files', () => {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.exports['.'].import, './dist/src/index.js');
  assert.equal(pkg.exports['./node'].import, './dist/src/node.js');
  assert.equal(pkg.bin.flatminima, './dist/src/cli/main.js');
});

test('nothing reachable from the root entry imports a Node module (it must run in a browser)', () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (url: URL): void => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    const source = readFileSync(url, 'utf8');
    for (const [, spec] of source.matchAll(/(?:import|export)[^'"]*from\s+'([^']+)'/g)) {
      if (spec.startsWith('.')) visit(new URL(spec.replace(/\.js$/, '.ts'), url));
      else if (spec.startsWith('node:') || ['fs', 'path', 'os', 'worker_threads', 'child_process', 'zlib'].includes(spec))
        offenders.push(`${url.pathname}: ${spec}`);
    }
  };
  visit(new URL('../src/index.ts', import.meta.url));
  assert.ok(seen.size > 10, `walked ${seen.size} modules`);
  assert.deepEqual(offenders, []);
});
