/**
 * Categorical cross-entropy of probabilities, clipped (the runner's loss, src/experiments/evaluate.ts),
 * as one forward and one backward kernel on wasm.
 *
 * Composed of ops, `−Σ_c y_c log(clip(p_c, eps, 1))` per example is five kernels forward and about
 * fifteen backward (Neg, Sum, Multiply, Log, ClipByValue and their gradients, ClipByValue's with
 * GreaterEqual, LessEqual, LogicalAnd, ZerosLike and Select); on the report's MLP their engine
 * bookkeeping costs more than the arithmetic of the layers. The loops here are plain JavaScript on
 * the wasm heap (rows of a batch of class scores: small), in float32 step by step in the order the
 * ops round, so the gradient is what the composition computes; the forward sum and log may differ
 * from the ops' by rounding.
 */
import type * as tf from '@tensorflow/tfjs';
import { WasmOps, type KernelArgs } from './ops.js';

/** Forward kernel: inputs { probs [N, C], labels [N, C] }, attrs { epsilon }; output [N]. */
export const CROSS_ENTROPY_KERNEL = 'FlatminimaCrossEntropy';
/** Gradient kernel: inputs { dy [N], probs, labels }, attrs { epsilon, wrt: 'probs' | 'labels' }; output [N, C]. */
export const CROSS_ENTROPY_GRAD_KERNEL = 'FlatminimaCrossEntropyGrad';

function rowsAndClasses(probs: tf.TensorInfo): [number, number] {
  const c = probs.shape[probs.shape.length - 1]!;
  return [c === 0 ? 0 : probs.shape.reduce((p, d) => p * d, 1) / c, c];
}

/** p clipped to [eps, 1]; NaN stays NaN, as in ClipByValue on cpu. */
function clip(p: number, eps: number): number {
  return p < eps ? eps : p > 1 ? 1 : p;
}

/** −Σ_c y_c log(clip(p_c, eps, 1)) for each row. */
export function crossEntropyKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { probs, labels } = inputs as { probs: tf.TensorInfo; labels: tf.TensorInfo };
  const eps = Math.fround(attrs.epsilon as number);
  const [n, c] = rowsAndClasses(probs);
  const out = ops.empty(probs.shape.slice(0, -1));
  const p = ops.view(probs);
  const y = ops.view(labels);
  const o = ops.view(out);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let j = i * c; j < (i + 1) * c; j++) {
      sum = Math.fround(sum + Math.fround(y[j]! * Math.fround(Math.log(clip(p[j]!, eps)))));
    }
    o[i] = -sum;
  }
  return out;
}

/**
 * wrt 'probs': dy_i · (−y_c) / clip(p_c) where eps <= p_c <= 1, else 0 (Neg, the broadcast of Sum,
 * Multiply, Log and ClipByValue's gradients, rounded as they round); wrt 'labels': −dy_i ·
 * log(clip(p_c)).
 */
export function crossEntropyGradKernel({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo {
  const ops = new WasmOps(backend);
  const { dy, probs, labels } = inputs as { dy: tf.TensorInfo; probs: tf.TensorInfo; labels: tf.TensorInfo };
  const eps = Math.fround(attrs.epsilon as number);
  const wrtLabels = attrs.wrt === 'labels';
  const [n, c] = rowsAndClasses(probs);
  const out = ops.empty(probs.shape);
  const d = ops.view(dy);
  const p = ops.view(probs);
  const y = ops.view(labels);
  const o = ops.view(out);
  for (let i = 0; i < n; i++) {
    const g = -d[i]!;
    for (let j = i * c; j < (i + 1) * c; j++) {
      const pj = p[j]!;
      if (wrtLabels) o[j] = g * Math.fround(Math.log(clip(pj, eps)));
      else o[j] = pj >= eps && pj <= 1 ? Math.fround(g * y[j]!) / pj : 0;
    }
  }
  return out;
}
