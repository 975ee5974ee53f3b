/**
 * Random vectors in parameter space for the sharpness measures (probes, start vectors), one tensor
 * per variable in the shapes of `obj.vars`. The arithmetic and the weights snapshot are the library's
 * one toolkit (src/util/paramVector.ts), re-exported here under the names the measures use. Every
 * function returns new tensors the caller disposes.
 */
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../util/random.js';

export { dot, norm, scale, WeightSnapshot, withSnapshot, atShiftedWeights, type ParamVector } from '../util/paramVector.js';

/** A fresh vector of the variables' shapes filled by `draw` (float32, drawn variable by variable). */
export function randomVector(vars: readonly tf.Variable[], draw: () => number): tf.Tensor[] {
  return vars.map((v) => {
    const data = new Float32Array(v.size);
    for (let i = 0; i < data.length; i++) data[i] = draw();
    return tf.tensor(data, v.shape, 'float32');
  });
}

/** Standard normal entries from `rng`. */
export function normalVector(vars: readonly tf.Variable[], rng: Rng): tf.Tensor[] {
  return randomVector(vars, () => rng.normal());
}

/** Rademacher (±1 with probability 1/2) entries from `rng`. */
export function rademacherVector(vars: readonly tf.Variable[], rng: Rng): tf.Tensor[] {
  return randomVector(vars, () => (rng.uint32() & 1 ? 1 : -1));
}
