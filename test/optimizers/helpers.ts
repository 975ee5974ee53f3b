/** Shared helpers of the optimizer tests: closeness checks and small problems with known gradients. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';

/** Asserts |a_i - b_i| <= atol + rtol |b_i| elementwise. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol = 1e-6, rtol = 1e-5, what = 'value'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} != ${expected.length}`);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const b = expected[i];
    assert.ok(Number.isFinite(a), `${what}[${i}] is not finite: ${a}`);
    assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b), `${what}[${i}]: got ${a}, expected ${b}`);
  }
}

/** Flat float64 values of a list of tensors. */
export function flatValues(xs: readonly tf.Tensor[]): number[] {
  return xs.flatMap((x) => Array.from(x.dataSync()));
}

/** Diagonal quadratic L(w) = 0.5 * sum_i a_i w_i^2 over several variables (flattened in order). */
export class Quadratic {
  readonly vars: tf.Variable[];
  private readonly coeffs: tf.Tensor[];

  constructor(
    readonly shapes: number[][],
    readonly init: number[],
    readonly a: number[],
  ) {
    let offset = 0;
    this.vars = [];
    this.coeffs = [];
    for (const shape of shapes) {
      const size = shape.reduce((p, q) => p * q, 1);
      this.vars.push(tf.variable(tf.tensor(init.slice(offset, offset + size), shape)));
      this.coeffs.push(tf.tensor(a.slice(offset, offset + size), shape));
      offset += size;
    }
  }

  /** The loss closure for minimize. */
  readonly loss = (): tf.Scalar =>
    tf.tidy(() => tf.addN(this.vars.map((v, i) => tf.sum(tf.mul(tf.mul(this.coeffs[i], tf.square(v)), 0.5)))) as tf.Scalar);

  /** Current weights, flat. */
  weights(): number[] {
    return flatValues(this.vars);
  }

  dispose(): void {
    tf.dispose([...this.vars, ...this.coeffs]);
  }
}
