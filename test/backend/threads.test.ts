/**
 * The threaded wasm build in Node: it starts with the requested thread count, trains like cpu, and
 * the process still exits by itself (its pthread workers are unref()'d).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const child = fileURLToPath(new URL('./fixtures/threaded-child.ts', import.meta.url));

function runChild(
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const p = spawn(process.execPath, ['--import', 'tsx', child, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

test('threaded wasm (2 threads) starts, trains like cpu and lets the process exit', async () => {
  const r = await runChild(['2'], 60_000);
  assert.equal(r.signal, null, `child killed after ${r.ms} ms (did not exit by itself); stderr: ${r.stderr.slice(-2000)}`);
  assert.equal(r.code, 0, `child exit code ${r.code}; stderr: ${r.stderr.slice(-2000)}`);
  const line = r.stdout.trim().split('\n').pop()!;
  const out = JSON.parse(line) as {
    info: { name: string; threads: number; reason: string };
    losses: number[];
    maxDiff: number;
    numTensors: number;
  };
  assert.equal(out.info.name, 'wasm');
  assert.equal(out.info.threads, 2);
  assert.match(out.info.reason, /threaded-SIMD build/);
  assert.ok(out.losses.every(Number.isFinite));
  assert.ok(out.maxDiff < 1e-4, `threaded wasm vs cpu weights differ by ${out.maxDiff}`);
  assert.equal(out.numTensors, 0);
});
