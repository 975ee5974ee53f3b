/**
 * Option checks of the sharpness measures: the library's one kit (src/util/validation.ts, re-exported
 * here under the names the measures use) plus what only the measures check, the objective and the
 * Hessian-vector method. Every bad option throws a TypeError (wrong type) or RangeError (out of
 * range) that names the function, the option and what is allowed; nothing is clamped silently.
 */
import * as tf from '@tensorflow/tfjs';
import { checkChoice, checkOptionsObject, describeValue } from '../util/validation.js';
import type { Objective } from './objective.js';

export { checkBoolean, checkChoice, checkNumber, checkSeed, optionsOrEmpty, type NumberRule } from '../util/validation.js';

/** How a Hessian-vector product is computed (see hvp.ts). */
export type HvpMethod = 'auto' | 'double-backprop' | 'finite-difference';

const HVP_METHODS: readonly HvpMethod[] = ['auto', 'double-backprop', 'finite-difference'];

/** Checks an HVP method name (default 'auto'). */
export function checkMethod(fn: string, value: unknown): HvpMethod {
  return checkChoice(fn, 'method', value, 'auto', HVP_METHODS);
}

/** Checks that a measure's `opts` argument is an object; `example` shows its required keys. */
export function checkOptions(fn: string, opts: unknown, example: string): asserts opts is object {
  checkOptionsObject(fn, 'opts', opts, example);
}

/** Checks that `obj` is an Objective over distinct, trainable float32 variables. */
export function checkObjective(fn: string, obj: Objective): void {
  if (obj === null || typeof obj !== 'object')
    throw new TypeError(`${fn}: obj must be an Objective { vars, loss }, got ${describeValue(obj)}`);
  if (typeof obj.loss !== 'function')
    throw new TypeError(`${fn}: obj.loss must be a function returning a scalar tensor, got ${describeValue(obj.loss)}`);
  if (!Array.isArray(obj.vars))
    throw new TypeError(`${fn}: obj.vars must be a non-empty array of tf.Variable, got ${describeValue(obj.vars)}`);
  if (obj.vars.length === 0) throw new RangeError(`${fn}: obj.vars must be a non-empty array of tf.Variable, got an empty array`);
  const names = new Set<string>();
  obj.vars.forEach((v, i) => {
    if (!(v instanceof tf.Variable)) throw new TypeError(`${fn}: obj.vars[${i}] must be a tf.Variable, got ${describeValue(v)}`);
    if (v.isDisposed) throw new Error(`${fn}: obj.vars[${i}] (${v.name}) is disposed`);
    if (!v.trainable) throw new RangeError(`${fn}: obj.vars[${i}] (${v.name}) must be trainable (tf.variableGrads skips others)`);
    if (v.dtype !== 'float32') throw new TypeError(`${fn}: obj.vars[${i}] (${v.name}) must be float32, got ${v.dtype}`);
    if (names.has(v.name)) throw new RangeError(`${fn}: obj.vars[${i}] (${v.name}) appears twice`);
    names.add(v.name);
  });
  if (obj.chunks !== undefined) {
    if (!Array.isArray(obj.chunks))
      throw new TypeError(`${fn}: obj.chunks must be a non-empty array when given, got ${describeValue(obj.chunks)}`);
    if (obj.chunks.length === 0) throw new RangeError(`${fn}: obj.chunks must be a non-empty array when given, got an empty array`);
    obj.chunks.forEach((c, i) => {
      if (typeof c.loss !== 'function')
        throw new TypeError(`${fn}: obj.chunks[${i}].loss must be a function, got ${describeValue(c.loss)}`);
      if (typeof c.weight !== 'number')
        throw new TypeError(`${fn}: obj.chunks[${i}].weight must be a finite number >= 0, got ${describeValue(c.weight)}`);
      if (!Number.isFinite(c.weight) || c.weight < 0)
        throw new RangeError(`${fn}: obj.chunks[${i}].weight must be a finite number >= 0, got ${c.weight}`);
    });
  }
}
