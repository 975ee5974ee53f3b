/**
 * package.json `sideEffects` against a real bundler (esbuild, as a user's build would run it): a
 * bundle that only does `import 'flatminima'` still registers the optimiser classes with tfjs
 * serialisation and the second-order gradients (modules not listed there are dropped when unused, so
 * a missing entry would silently drop those registrations), and the two browser entries bundle for a
 * browser, i.e. nothing reachable from them needs a Node module. `flatminima` resolves to this
 * repository's source through tsconfig paths; test/package/pack.test.ts checks the same on the tarball.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the repository (its git-ignored .tmp/), so the bundle resolves @tensorflow/tfjs from node_modules.
mkdirSync(join(root, '.tmp'), { recursive: true });
const tmp = mkdtempSync(join(root, '.tmp', 'side-effects-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("a bundle of `import 'flatminima'` alone keeps the class and gradient registrations", async () => {
  const outfile = join(tmp, 'bundle.mjs');
  await esbuild.build({
    stdin: {
      contents: `import 'flatminima';
import * as tf from '@tensorflow/tfjs';
const names = Object.keys(tf.serialization.SerializationMap.getMap().classNameMap);
console.log(JSON.stringify({ classes: ['SAM', 'ASAM', 'GSAM', 'AdaptiveGSAM'].filter((c) => names.includes(c)), maxPoolGradGrad: tf.getGradient('MaxPoolGrad') != null }));`,
      resolveDir: root,
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['@tensorflow/tfjs'],
    tsconfig: join(root, 'tsconfig.json'),
    outfile,
    logLevel: 'silent',
  });
  const { stdout } = await promisify(execFile)(process.execPath, [outfile], { cwd: root });
  assert.deepEqual(JSON.parse(stdout.trim().split('\n').at(-1)!), {
    classes: ['SAM', 'ASAM', 'GSAM', 'AdaptiveGSAM'],
    maxPoolGradGrad: true,
  });
});

test('flatminima and flatminima/wasm-kernels bundle for a browser; flatminima/node does not', async () => {
  const bundle = (contents: string) =>
    esbuild.build({
      stdin: { contents, resolveDir: root, loader: 'js' },
      bundle: true,
      platform: 'browser',
      format: 'esm',
      tsconfig: join(root, 'tsconfig.json'),
      write: false,
      logLevel: 'silent',
    });
  const result = await bundle(`export * from 'flatminima'; export * from 'flatminima/wasm-kernels';`);
  assert.deepEqual(result.errors, []);
  // The check can fail: the Node entry reaches node:fs and friends, which a browser build cannot resolve.
  await assert.rejects(bundle(`export * from 'flatminima/node';`), /node:/);
});
