/**
 * Signals during native kernels: oneDNN's generated GEMM kernels (Debian's 2.x) point the stack
 * register into the heap while they run, so a signal handled meanwhile on that thread corrupts the
 * heap (uxlfoundation/oneDNN#4845); the addon holds signals back around oneDNN code. Checked with a
 * CPU profile (SIGPROF, which aborted the process with "corrupted size vs. prev_size" before the
 * fix) and with a flood of a handled signal, as Ctrl-C or a terminal resize would send during
 * training. Skipped where the addon is not built.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT, removeTempDirs, tempDir } from '../cli/helpers.js';
import { SKIP_NATIVE, requireNativeWhereAsked } from './native-helpers.js';

requireNativeWhereAsked();
after(removeTempDirs);

const child = fileURLToPath(new URL('./fixtures/native-signals-child.ts', import.meta.url));

interface Ran {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  sent: number;
}

/** Runs the child with `nodeArgs`; with `flood`, sends it SIGUSR2 every 2 ms once it is ready. */
function runChild(nodeArgs: string[], childArgs: string[], flooding: boolean): Promise<Ran> {
  let flood = flooding;
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', child, ...childArgs], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let sent = 0;
    let timer: NodeJS.Timeout | null = null;
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // 'stop' ends the flood (the child keeps its handler a little longer).
      if (timer != null && stdout.includes('stop\n')) {
        clearInterval(timer);
        timer = null;
        flood = false;
      }
      if (flood && timer == null && stdout.includes('ready\n')) {
        timer = setInterval(() => {
          if (p.exitCode == null && p.signalCode == null && p.kill('SIGUSR2')) sent++;
        }, 2);
      }
    });
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => p.kill('SIGKILL'), 120_000);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      if (timer != null) clearInterval(timer);
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr, sent });
    });
  });
}

function result(r: Ran): { iterations: number; received: number; tensors: number } {
  assert.equal(r.signal, null, `child killed by ${r.signal}; stderr: ${r.stderr.slice(-1500)}`);
  assert.equal(r.code, 0, `child exit code ${r.code}; stderr: ${r.stderr.slice(-1500)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as { iterations: number; received: number; tensors: number };
}

describe('signals while native kernels run', { skip: SKIP_NATIVE }, () => {
  test('under the CPU profiler (SIGPROF) the heap stays intact', async () => {
    const dir = tempDir('native-prof');
    const out = result(await runChild(['--cpu-prof', `--cpu-prof-dir=${dir}`], ['2'], false));
    assert.ok(out.iterations > 0);
    assert.equal(out.tensors, 0);
  });

  test('a flood of handled signals (1 and 2 threads): every one handled, the heap intact', async () => {
    for (const threads of ['1', '2']) {
      const r = await runChild([], ['2', threads], true);
      const out = result(r);
      assert.ok(r.sent > 50, `only ${r.sent} signals sent`);
      // Signals sent close together may merge into one; most arrive.
      assert.ok(out.received > 0 && out.received <= r.sent, `${out.received} of ${r.sent} signals handled`);
      assert.equal(out.tensors, 0);
    }
  });
});
