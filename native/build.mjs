#!/usr/bin/env node
/**
 * Builds flatminima's optional native addon (native/binding.gyp: oneDNN kernels for the wasm
 * backend) with node-gyp. Plain JavaScript with no dependency of its own: it runs as the package's
 * `install` script, before anything is compiled.
 *
 *   node native/build.mjs             build with the compiler's full output; exit code 0 = built
 *   node native/build.mjs --optional  the install step: a build that cannot run or fails prints one
 *                                     warning and exits 0 (the package works without the addon)
 *
 * Needs a C++17 compiler (`$CXX`, else c++/g++) and oneDNN 2.x headers and library (Debian:
 * `apt-get install libdnnl-dev g++`). Node's headers come from the Node installation when it ships
 * them (`<prefix>/include/node`), so nothing is downloaded. `FLATMINIMA_NATIVE=0` skips the
 * optional build. Writes build/status.json: whether the last attempt built the addon and, if not,
 * why (the loader, src/backend/native.ts, reports that reason).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const buildDir = join(here, 'build');
const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--optional');
if (unknown.length > 0) {
  console.error(`native/build.mjs: unknown argument ${JSON.stringify(unknown[0])}; the only option is --optional`);
  process.exit(2);
}
const optional = args.includes('--optional');

/** Records the outcome for the loader and, when optional, turns a failure into a warning. */
function finish(built, reason, log = '') {
  mkdirSync(buildDir, { recursive: true });
  const note = { built, reason, node: process.version, date: new Date().toISOString() };
  writeFileSync(join(buildDir, 'status.json'), `${JSON.stringify(note, null, 2)}\n`);
  if (built) {
    console.log(`flatminima: native oneDNN kernels built (${join(buildDir, 'Release', 'flatminima_native.node')})`);
    process.exit(0);
  }
  if (optional) {
    console.warn(
      `flatminima: the optional native kernels were not built: ${reason}. Everything works on the wasm kernels; ` +
        'to build them, install oneDNN and a compiler (Debian: apt-get install libdnnl-dev g++) and run `npx flatminima build-native` ' +
        '(it shows the full compiler output).',
    );
    if (log !== '')
      console.warn(
        log
          .trimEnd()
          .split('\n')
          .slice(-5)
          .map((l) => `  ${l}`)
          .join('\n'),
      );
    process.exit(0);
  }
  console.error(`flatminima: native kernels not built: ${reason}`);
  process.exit(1);
}

if (optional && process.env.FLATMINIMA_NATIVE === '0') {
  console.log('flatminima: native kernels skipped (FLATMINIMA_NATIVE=0)');
  process.exit(0);
}

/** The first compiler that runs: $CXX, else c++, else g++. */
function findCompiler() {
  const candidates = process.env.CXX ? [process.env.CXX] : ['c++', 'g++'];
  return candidates.find((cxx) => spawnSync(cxx, ['--version'], { stdio: 'ignore' }).status === 0) ?? null;
}

const cxx = findCompiler();
if (cxx == null) finish(false, `no C++ compiler found (tried ${process.env.CXX ? `CXX=${process.env.CXX}` : 'c++, g++'})`);

// oneDNN present? Compile and link a one-line program against it: the same check as the build's,
// without node-gyp's noise, so the reason can say what is missing.
const probeDir = mkdtempSync(join(tmpdir(), 'flatminima-dnnl-'));
let probeFailure = null;
try {
  const source = join(probeDir, 'probe.cc');
  writeFileSync(source, '#include <dnnl.hpp>\nint main() { return dnnl_version()->major >= 2 ? 0 : 1; }\n');
  const probe = spawnSync(cxx, ['-std=c++17', source, '-o', join(probeDir, 'probe'), '-ldnnl'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    const log = `${probe.stdout ?? ''}${probe.stderr ?? ''}`;
    const reason = /dnnl\.hpp/.test(log)
      ? 'no libdnnl found'
      : /-ldnnl/.test(log)
        ? 'no libdnnl found (headers without the library)'
        : 'a oneDNN test program did not compile';
    probeFailure = { reason, log };
  } else if (spawnSync(join(probeDir, 'probe'), [], { stdio: 'ignore' }).status !== 0) {
    probeFailure = { reason: 'the oneDNN found is older than 2.0 (or does not run)', log: '' };
  }
} finally {
  rmSync(probeDir, { recursive: true, force: true });
}
if (probeFailure != null) {
  if (!optional) process.stderr.write(probeFailure.log);
  finish(false, probeFailure.reason, probeFailure.log);
}

/** node-gyp: this package's copy, else the one npm runs scripts with. */
function findNodeGyp() {
  try {
    return createRequire(join(here, 'package.json')).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const fromNpm = process.env.npm_config_node_gyp;
    return fromNpm && existsSync(fromNpm) ? fromNpm : null;
  }
}

const nodeGyp = findNodeGyp();
if (nodeGyp == null) finish(false, 'node-gyp not found (npm install node-gyp)');

const gypArgs = [nodeGyp, 'rebuild'];
// Headers of the running Node, where its installation has them (Debian's nodejs, nvm, the official tarballs).
const prefix = resolve(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h'))) gypArgs.push(`--nodedir=${prefix}`);
const env = { ...process.env, CXX: cxx };
const build = optional
  ? spawnSync(process.execPath, gypArgs, { cwd: here, env, encoding: 'utf8' })
  : spawnSync(process.execPath, gypArgs, { cwd: here, env, stdio: 'inherit' });
if (build.status !== 0) {
  finish(
    false,
    `the build failed (node-gyp exit ${build.status ?? build.signal})`,
    optional ? `${build.stdout ?? ''}${build.stderr ?? ''}` : '',
  );
}
finish(true, 'built');
