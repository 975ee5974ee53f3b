/** Shared helpers of the backend tests: run the same computation on two backends and compare. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { Rng } from '../../src/util/random.js';

/** Uniform values in [lo, hi) from a seeded stream. */
export function uniform(size: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = lo + (hi - lo) * rng.next();
  return out;
}

/** Number of elements of a shape. */
export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Runs `fn` (which builds its tensors from plain arrays) on `backend` and returns its outputs as
 * arrays; asserts that no tensor outlives the call.
 */
export async function runOn(backend: string, fn: () => tf.Tensor[]): Promise<Float32Array[]> {
  assert.ok(await tf.setBackend(backend), `could not switch to ${backend}`);
  const before = tf.memory().numTensors;
  const outs = tf.tidy(fn);
  const arrays = outs.map((t) => t.dataSync() as Float32Array).map((a) => Float32Array.from(a));
  tf.dispose(outs);
  assert.equal(tf.memory().numTensors, before, `${backend}: tensors leaked`);
  return arrays;
}

/** Asserts |a - b| <= tol * (1 + max|b|) elementwise (float32 rounding of sums), naming `what`. */
export function assertClose(a: Float32Array, b: Float32Array, what: string, tol = 2e-5): void {
  assert.equal(a.length, b.length, `${what}: length ${a.length} vs ${b.length}`);
  let scale = 0;
  for (const v of b) scale = Math.max(scale, Math.abs(v));
  const bound = tol * (1 + scale);
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i]))) continue; // equal infinities, both NaN
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= bound)) assert.fail(`${what}: element ${i}: wasm ${a[i]} vs cpu ${b[i]} (|diff| ${d} > ${bound})`);
  }
}

/** Runs `fn` on wasm and on cpu and compares every output. */
export async function assertSameOnBoth(fn: () => tf.Tensor[], what: string, tol?: number): Promise<void> {
  const w = await runOn('wasm', fn);
  const c = await runOn('cpu', fn);
  assert.equal(w.length, c.length);
  w.forEach((arr, i) => assertClose(arr, c[i]!, `${what} [output ${i}]`, tol));
}
