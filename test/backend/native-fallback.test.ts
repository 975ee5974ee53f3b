/**
 * Without the native addon everything runs as before: 'auto' falls back to the wasm kernels and
 * says why, `--backend native` fails clearly (exit code 2 from the CLI), the loader reports a
 * missing, unbuildable or broken addon in words, and the install step's build never fails the
 * install. These tests force the absent case (FLATMINIMA_NATIVE=0, empty build directories, a
 * compiler that is not there), so they run whether or not the addon is built here; the last ones
 * check the present case where it is.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeNative, findNativeAddon, nativeDisabled, nativeRemedy } from '../../src/backend/native.js';
import { ROOT, removeTempDirs, tempDir } from '../cli/helpers.js';
import { NATIVE, SKIP_NATIVE } from './native-helpers.js';

after(removeTempDirs);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` from the repository root with extra environment variables. */
function runNode(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, FLATMINIMA_DEBUG: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const cli = (args: string[], env: Record<string, string>): Promise<Ran> =>
  runNode(['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], env);
const OFF = { FLATMINIMA_NATIVE: '0' };
// The build tests run as if the variable were unset, also in CI's pass with the addon turned off.
const ON = { FLATMINIMA_NATIVE: '1' };
const TINY_RUN = ['--dataset', 'moons', '--n', '120', '--epochs', '1', '--batch-size', '32', '--measure', '0'];

describe('with the addon turned off (FLATMINIMA_NATIVE=0)', () => {
  test("auto takes wasm and says why; backend 'native' is a clear error", async () => {
    const child = fileURLToPath(new URL('./fixtures/native-off-child.ts', import.meta.url));
    const r = await runNode(['--import', 'tsx', child], OFF);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      auto: { name: string; native: string; reason: string; nativeKernels: string[] };
      backend: string;
      registered: string | null;
      nativeError: string | null;
    };
    assert.equal(out.auto.name, 'wasm');
    assert.equal(out.backend, 'wasm');
    assert.deepEqual(out.auto.nativeKernels, []);
    assert.equal(out.auto.native, 'native: disabled (FLATMINIMA_NATIVE=0)');
    assert.match(out.auto.reason, /native: disabled \(FLATMINIMA_NATIVE=0\); using wasm/);
    // The wasm training kernel, not a native one, is registered for Conv2D.
    assert.equal(out.registered, 'conv2dKernel');
    assert.match(
      out.nativeError ?? '',
      /backend 'native' requested but unavailable: the native kernels are disabled \(FLATMINIMA_NATIVE=0\); unset FLATMINIMA_NATIVE \(or set it to 1\), or use backend wasm/,
    );
  });

  test('the CLI: --backend native exits 2 with the reason; auto trains on wasm and prints the backend line', async () => {
    const results = tempDir('native-off');
    const refused = await cli(['train', ...TINY_RUN, '--results', results, '--backend', 'native'], OFF);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(
      refused.stderr,
      /error: --backend native: the native kernels are disabled \(FLATMINIMA_NATIVE=0\); unset FLATMINIMA_NATIVE \(or set it to 1\), or use --backend wasm/,
    );
    const auto = await cli(['train', ...TINY_RUN, '--results', results], OFF);
    assert.equal(auto.code, 0, auto.stderr);
    assert.match(auto.stderr, /backend: wasm, 1 thread; native: disabled \(FLATMINIMA_NATIVE=0\)/);
    assert.match(auto.stdout, /on backend wasm, 1 thread/);
    // A sweep on the local pool is refused the same way, before any run starts.
    const sweep = await cli(
      [
        'sweep',
        '--set',
        'dataset.name=moons',
        '--set',
        'optimizer.name=sam',
        '--grid',
        'optimizer.rho=0.05',
        '--seeds',
        '1',
        '--results',
        results,
        '--backend',
        'native',
        '--dry-run',
      ],
      OFF,
    );
    assert.equal(sweep.code, 2, sweep.stderr);
    assert.match(sweep.stderr, /error: --backend native: the native kernels are disabled \(FLATMINIMA_NATIVE=0\)/);
  });

  test('a bad FLATMINIMA_NATIVE value is rejected with what is allowed', () => {
    assert.throws(() => nativeDisabled({ FLATMINIMA_NATIVE: 'yes' }), {
      name: 'RangeError',
      message: /FLATMINIMA_NATIVE must be '0' \(native kernels off\) or '1' \(on, the default\), got "yes"/,
    });
    assert.equal(nativeDisabled({ FLATMINIMA_NATIVE: '1' }), false);
    assert.equal(nativeDisabled({}), false);
    assert.equal(nativeDisabled({ FLATMINIMA_NATIVE: '0' }), true);
  });
});

describe('the loader reports an absent or broken addon', () => {
  test('no build, a build note saying why, a file that is not an addon', () => {
    const empty = tempDir('native-none');
    assert.deepEqual(findNativeAddon({ buildDirs: [empty], env: {} }), {
      available: false,
      reason: 'not built (run `npx flatminima build-native`)',
    });
    const noted = tempDir('native-note');
    writeFileSync(join(noted, 'status.json'), JSON.stringify({ built: false, reason: 'no libdnnl found' }));
    const status = findNativeAddon({ buildDirs: [empty, noted], env: {} });
    assert.deepEqual(status, { available: false, reason: 'not built (no libdnnl found)' });
    assert.equal(describeNative(status, 1), 'native: not built (no libdnnl found)');
    assert.equal(nativeRemedy(status), 'build them with `npx flatminima build-native` (needs oneDNN, Debian libdnnl-dev, and g++)');
    const broken = tempDir('native-broken');
    mkdirSync(join(broken, 'Release'));
    writeFileSync(join(broken, 'Release', 'flatminima_native.node'), 'not a shared object');
    const b = findNativeAddon({ buildDirs: [broken], env: {} });
    assert.equal(b.available, false);
    assert.match(b.available ? '' : b.reason, /^failed to load \(.+\)$/);
    assert.deepEqual(findNativeAddon({ buildDirs: [broken], env: OFF }), { available: false, reason: 'disabled (FLATMINIMA_NATIVE=0)' });
  });
});

describe("the install step's build (native/build.mjs --optional)", () => {
  /** A copy of the build script in a fresh directory, so its notes do not touch the real build. */
  function scratchBuild(): { script: string; buildDir: string } {
    const dir = tempDir('native-build');
    const script = join(dir, 'build.mjs');
    copyFileSync(join(ROOT, 'native', 'build.mjs'), script);
    return { script, buildDir: join(dir, 'build') };
  }

  test('no compiler: one warning, exit 0, and a note the loader reports', async () => {
    const { script, buildDir } = scratchBuild();
    const r = await runNode([script, '--optional'], { CXX: '/nonexistent/c++', ...ON });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /flatminima: the optional native kernels were not built: no C\+\+ compiler found \(tried CXX=\/nonexistent\/c\+\+\)\. Everything works on the wasm kernels/,
    );
    const note = JSON.parse(readFileSync(join(buildDir, 'status.json'), 'utf8')) as { built: boolean; reason: string };
    assert.equal(note.built, false);
    assert.deepEqual(findNativeAddon({ buildDirs: [buildDir], env: {} }), {
      available: false,
      reason: 'not built (no C++ compiler found (tried CXX=/nonexistent/c++))',
    });
    // Without --optional (npx flatminima build-native) the same is a failure.
    const strict = await runNode([script], { CXX: '/nonexistent/c++', ...ON });
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /native kernels not built: no C\+\+ compiler found/);
  });

  test("a compiler without oneDNN's headers: 'no libdnnl found', exit 0; the full compiler output without --optional", async () => {
    const { script, buildDir } = scratchBuild();
    // A stand-in compiler that answers --version and fails every compilation the way g++ does when
    // a header is missing (this machine has oneDNN, so a real missing header cannot be staged).
    const cxx = join(buildDir, '..', 'fake-c++');
    writeFileSync(
      cxx,
      '#!/bin/sh\nif [ "$1" = "--version" ]; then echo "fake c++ 1.0"; exit 0; fi\necho "probe.cc:1:10: fatal error: dnnl.hpp: No such file or directory" >&2\nexit 1\n',
    );
    chmodSync(cxx, 0o755);
    const r = await runNode([script, '--optional'], { CXX: cxx, ...ON });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /were not built: no libdnnl found\./);
    assert.deepEqual(findNativeAddon({ buildDirs: [buildDir], env: {} }), { available: false, reason: 'not built (no libdnnl found)' });
    const strict = await runNode([script], { CXX: cxx, ...ON });
    assert.equal(strict.code, 1);
    assert.match(strict.stderr, /fatal error: dnnl\.hpp: No such file or directory/);
  });

  test('FLATMINIMA_NATIVE=0 skips the optional build', async () => {
    const { script, buildDir } = scratchBuild();
    const r = await runNode([script, '--optional'], OFF);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /native kernels skipped \(FLATMINIMA_NATIVE=0\)/);
    assert.equal(existsSync(buildDir), false);
  });

  test('an unknown argument is refused', async () => {
    const { script } = scratchBuild();
    const r = await runNode([script, '--quiet'], {});
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown argument "--quiet"; the only option is --optional/);
  });
});

describe('with the addon built', { skip: SKIP_NATIVE }, () => {
  test('the CLI: auto trains on native, the record says so and names oneDNN', async () => {
    const results = tempDir('native-on');
    const r = await cli(['train', ...TINY_RUN, '--results', results], {});
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /backend: native; native: oneDNN 2\.\d+\.\d+ \(\w+\), 1 thread/);
    assert.match(r.stdout, /on backend native, 1 thread/);
    const dir = r.stdout.match(/record (\S+record\.json)/)![1]!;
    const record = JSON.parse(readFileSync(dir, 'utf8')) as { backend: string; versions: Record<string, string> };
    assert.equal(record.backend, 'native');
    const v = NATIVE.available ? NATIVE.version : null;
    assert.equal(record.versions.oneDNN, `${v!.major}.${v!.minor}.${v!.patch} ${v!.isa}`);
    // --backend wasm stays the pure wasm kernels.
    const wasm = await cli(['train', ...TINY_RUN, '--results', tempDir('native-wasm'), '--backend', 'wasm'], {});
    assert.equal(wasm.code, 0, wasm.stderr);
    assert.match(wasm.stderr, /backend: wasm, 1 thread; native: not used \(backend 'wasm'\)/);
  });
});
