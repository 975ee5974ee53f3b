/**
 * Seeded weight initialisation shared by the model factories. Browser-safe.
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../util/random.js';

/**
 * Returns a function that gives each successive layer its own Glorot-uniform kernel initializer, with
 * seeds drawn from `Rng(seed)`: the same model seed always gives the same weights, while the layers
 * still get different random streams (tfjs would otherwise reuse one seed for every layer).
 */
export function seededGlorotUniform(seed: number): () => ReturnType<typeof tf.initializers.glorotUniform> {
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  const rng = new Rng(seed);
  return () => tf.initializers.glorotUniform({ seed: rng.seed() });
}

/** Throws unless `value` is an integer >= `min`; `what` names the argument. */
export function checkInt(value: unknown, what: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new Error(`${what} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}
