/**
 * The package as a user gets it: `npm pack` (which builds dist/ through `prepare`) in a copy of the
 * repository, the tarball installed into an empty project with npm (from the local cache where it
 * can), and then, in that project: an example runs against the installed package, its types check
 * against the published .d.ts files, and bundling only `import 'flatminima'` keeps the modules that
 * register things at import (package.json `sideEffects`). The tarball carries the native addon's
 * sources, and installing it builds the addon where this repository's own build succeeded (oneDNN
 * and a compiler present), unless FLATMINIMA_NATIVE=0 skips it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));
const exec = promisify(execFile);
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const tmp = mkdtempSync(join(tmpdir(), 'flatminima-pack-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('npm pack, install the tarball into an empty project, run and type-check an example there', { timeout: 900_000 }, async () => {
  // A copy of what `npm pack` reads, so that building dist/ here never touches the repository's.
  const copy = join(tmp, 'repo');
  mkdirSync(copy);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'tsconfig.json', 'tsconfig.build.json'])
    copyFileSync(join(root, f), join(copy, f));
  cpSync(join(root, 'src'), join(copy, 'src'), { recursive: true });
  // The addon's sources and build script, not its build (native/build/).
  mkdirSync(join(copy, 'native'));
  for (const f of ['binding.gyp', 'build.mjs']) copyFileSync(join(root, 'native', f), join(copy, 'native', f));
  cpSync(join(root, 'native', 'src'), join(copy, 'native', 'src'), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  const packed = await exec(npm, ['pack', '--json', '--pack-destination', tmp], { cwd: copy, maxBuffer: 64 * 1024 * 1024 });
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  for (const f of [
    'LICENSE',
    'README.md',
    'CHANGELOG.md',
    'package.json',
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/src/node.js',
    'dist/src/wasm-kernels.js',
    'dist/src/cli/main.js',
    'native/binding.gyp',
    'native/build.mjs',
    'native/src/addon.cc',
  ]) {
    assert.ok(files.includes(f), `the tarball holds ${f}`);
  }
  assert.deepEqual(
    files.filter(
      (f) =>
        !/^(dist\/src\/.*\.(js|d\.ts|js\.map|d\.ts\.map)|native\/(binding\.gyp|build\.mjs|src\/[\w-]+\.(cc|h))|LICENSE|README\.md|CHANGELOG\.md|package\.json)$/.test(
          f,
        ),
    ),
    [],
    'nothing else',
  );

  const app = join(tmp, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'uses-flatminima', private: true, type: 'module' }));
  await exec(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(tmp, info!.filename), '@tensorflow/tfjs@4.22.0'], {
    cwd: app,
    maxBuffer: 64 * 1024 * 1024,
  });

  // The install step (native/build.mjs --optional) built the addon where this repository's build did.
  const status = join(app, 'node_modules', 'flatminima', 'native', 'build', 'status.json');
  if (process.env.FLATMINIMA_NATIVE === '0') assert.ok(!existsSync(status), 'FLATMINIMA_NATIVE=0: the install step skips the build');
  else if (existsSync(join(root, 'native', 'build', 'Release', 'flatminima_native.node'))) {
    assert.ok(existsSync(status), 'the install step ran native/build.mjs');
    assert.equal((JSON.parse(readFileSync(status, 'utf8')) as { built: boolean; reason: string }).reason, 'built');
  }

  // The example, unchanged, against the installed package (tsx from this repository runs the .ts).
  copyFileSync(join(root, 'examples', 'custom-loop.ts'), join(app, 'custom-loop.ts'));
  const tsx = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
  const ran = await exec(process.execPath, ['--import', tsx, 'custom-loop.ts', '60'], { cwd: app });
  assert.match(ran.stdout, /^step 0: loss [\d.]+/m);
  assert.match(ran.stdout, /tensors left besides the optimiser's slots: 0\n/);

  // Its types, from the published declarations.
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  await exec(
    process.execPath,
    [
      tsc,
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--module',
      'nodenext',
      '--moduleResolution',
      'nodenext',
      '--skipLibCheck',
      '--types',
      'node',
      '--typeRoots',
      join(root, 'node_modules', '@types'),
      'custom-loop.ts',
    ],
    { cwd: app },
  );

  // A bundler given only `import 'flatminima'` must keep the serialisation and gradient registrations.
  const bundle = join(app, 'bundle.mjs');
  await esbuild.build({
    stdin: {
      contents: `import 'flatminima';
import * as tf from '@tensorflow/tfjs';
const names = Object.keys(tf.serialization.SerializationMap.getMap().classNameMap);
console.log(JSON.stringify({ classes: ['SAM', 'ASAM', 'GSAM', 'AdaptiveGSAM'].filter((c) => names.includes(c)), maxPoolGradGrad: tf.getGradient('MaxPoolGrad') != null }));`,
      resolveDir: app,
      loader: 'js',
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['@tensorflow/tfjs'],
    outfile: bundle,
    logLevel: 'silent',
  });
  const registered = JSON.parse((await exec(process.execPath, [bundle], { cwd: app })).stdout.trim().split('\n').at(-1)!);
  assert.deepEqual(registered, { classes: ['SAM', 'ASAM', 'GSAM', 'AdaptiveGSAM'], maxPoolGradGrad: true });

  // And the browser entries bundle for a browser: nothing reachable from them needs a Node module.
  const browser = await esbuild.build({
    stdin: { contents: `export * from 'flatminima'; export * from 'flatminima/wasm-kernels';`, resolveDir: app, loader: 'js' },
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    logLevel: 'silent',
  });
  assert.deepEqual(browser.errors, []);
});
