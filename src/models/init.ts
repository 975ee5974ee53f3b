/**
 * Seeded weight initialisation shared by the model factories. Browser-safe.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';
import { checkNumber } from '../util/validation.js';

/**
 * Returns a function that gives each successive layer its own Glorot-uniform kernel initializer, with
 * seeds drawn from `Rng(seed)`: the same model seed always gives the same weights, while the layers
 * still get different random streams (tfjs would otherwise reuse one seed for every layer).
 */
export function seededGlorotUniform(where: string, seed: number): () => ReturnType<typeof tf.initializers.glorotUniform> {
  checkNumber(where, 'seed', seed, undefined, { integer: true });
  const rng = new Rng(seed);
  return () => tf.initializers.glorotUniform({ seed: rng.seed() });
}

/** `value` if it is an integer >= `min` (the library's option kit; TypeError / RangeError otherwise). */
export function checkInt(where: string, value: unknown, what: string, min: number): number {
  return checkNumber(where, what, value, undefined, { min, integer: true });
}
