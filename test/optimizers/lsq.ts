/**
 * A least-squares problem with known per-example gradients, for the steps that need one loss per
 * example (ESAM's data selection, micro-batches, accumulation): `L_i(w) = 0.5 (x_i · w - t_i)²` with
 * w split over two variables (shapes [2] and [1]) so that global norms span variables, and its
 * float64 twin for references written out from the rules.
 */
import * as tf from '@tensorflow/tfjs';
import { exampleLosses, type ExampleLossClosure, type LossPass } from '../../src/index.js';

/** The problem in tfjs: two variables, the examples, and closures over them. */
export class LeastSquares {
  readonly vars: tf.Variable[];
  private readonly x: tf.Tensor2D;
  private readonly t: tf.Tensor1D;
  /** Every call of the example closure, with its pass and the number of examples asked for. */
  readonly calls: { pass: LossPass; n: number }[] = [];

  constructor(
    readonly xs: number[][],
    readonly ts: number[],
    w0: number[],
  ) {
    this.vars = [tf.variable(tf.tensor1d(w0.slice(0, 2))), tf.variable(tf.tensor1d(w0.slice(2)))];
    this.x = tf.tensor2d(xs);
    this.t = tf.tensor1d(ts);
  }

  /** The per-example losses at `indices` (all when null). */
  private lossesAt(indices: tf.Tensor1D | null): tf.Tensor1D {
    return tf.tidy(() => {
      const x = indices === null ? this.x : tf.gather(this.x, indices);
      const t = indices === null ? this.t : tf.gather(this.t, indices);
      const [xa, xb] = tf.split(x, [2, 1], 1);
      const pred = tf.add(tf.sum(tf.mul(xa, this.vars[0]), 1), tf.sum(tf.mul(xb, this.vars[1]), 1));
      return tf.mul(0.5, tf.square(tf.sub(pred, t))) as tf.Tensor1D;
    });
  }

  /** The closure with one loss per example (records each call). */
  examples(): ExampleLossClosure {
    return exampleLosses(this.ts.length, (indices, pass) => {
      this.calls.push({ pass, n: indices === null ? this.ts.length : indices.shape[0] });
      return this.lossesAt(indices);
    });
  }

  /** The closure of the batch's mean loss, the same arithmetic as `examples()` on the whole batch. */
  readonly mean = (): tf.Scalar => tf.tidy(() => tf.mean(this.lossesAt(null)) as tf.Scalar);

  /** The weights, flat. */
  weights(): number[] {
    return this.vars.flatMap((v) => Array.from(v.dataSync()));
  }

  dispose(): void {
    tf.dispose([...this.vars, this.x, this.t]);
  }
}

/** Float64 arithmetic of the same problem. */
export const lsq = {
  residual: (x: number[], t: number, w: number[]): number => x.reduce((s, xi, i) => s + xi * w[i], 0) - t,
  loss(x: number[], t: number, w: number[]): number {
    const r = lsq.residual(x, t, w);
    return 0.5 * r * r;
  },
  /** The mean gradient over the examples `idx`. */
  grad(xs: number[][], ts: number[], w: number[], idx: number[]): number[] {
    const g = w.map(() => 0);
    for (const i of idx) {
      const r = lsq.residual(xs[i], ts[i], w);
      xs[i].forEach((xij, j) => (g[j] += (r * xij) / idx.length));
    }
    return g;
  },
};

/** 0, 1, ..., n - 1. */
export const indices = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Euclidean norm, float64. */
export const norm = (v: number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/** Inner product, float64. */
export const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * b[i], 0);
