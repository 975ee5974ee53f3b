/**
 * Ownership of the tensors a computation makes, in one place, so that the computation itself reads as
 * its maths. `tf.tidy` cannot do this for a step: it forbids returning non-tensors, cannot span the
 * restore of variables in a `finally`, and does not own what a loss closure hands to `tf.keep`.
 */
import * as tf from '@tensorflow/tfjs';
import { interceptKeeps } from './tfjsFixes.js';

/** Anything holding tensors: a tensor, or arrays and plain objects of them (other values are ignored). */
export type TensorHolder = tf.Tensor | readonly unknown[] | { readonly [key: string]: unknown } | null | undefined;

/** Every tensor inside `x` (not variables: a scope never owns a variable). */
function tensorsIn(x: unknown, out: tf.Tensor[] = []): tf.Tensor[] {
  if (x instanceof tf.Variable) return out;
  if (x instanceof tf.Tensor) out.push(x);
  else if (Array.isArray(x)) x.forEach((item) => tensorsIn(item, out));
  else if (x !== null && typeof x === 'object' && Object.getPrototypeOf(x) === Object.prototype) {
    Object.values(x).forEach((item) => tensorsIn(item, out));
  }
  return out;
}

/**
 * The tensors a computation owns: {@link own} what it makes, {@link keep} what it hands back,
 * {@link swap} what it carries from one iteration to the next, {@link disposeNow} what it is done
 * with early, and {@link disposeAll} frees the rest
 * (once each, skipping any already disposed).
 */
export class TensorScope {
  private readonly owned = new Set<tf.Tensor>();

  /** Takes ownership of every tensor in `x`; returns `x`. */
  own<T extends TensorHolder>(x: T): T {
    for (const t of tensorsIn(x)) this.owned.add(t);
    return x;
  }

  /** Gives up ownership of every tensor in `x` (they outlive the scope, e.g. a result); returns `x`. */
  keep<T extends TensorHolder>(x: T): T {
    for (const t of tensorsIn(x)) this.owned.delete(t);
    return x;
  }

  /**
   * Owns `next` in place of `previous`, for a value carried from one iteration to the next: the
   * tensors of `previous` that are not in `next` are disposed now (owned or not); returns `next`.
   */
  swap<T extends TensorHolder>(previous: TensorHolder, next: T): T {
    const kept = new Set(tensorsIn(next));
    this.disposeNow(tensorsIn(previous).filter((t) => !kept.has(t)));
    return this.own(next);
  }

  /** Disposes the tensors of `x` now (owned or not), for memory that is not needed any more. */
  disposeNow(x: TensorHolder): void {
    for (const t of tensorsIn(x)) {
      this.owned.delete(t);
      if (!t.isDisposed) t.dispose();
    }
  }

  /**
   * Runs `fn` and owns every tensor passed to `tf.keep` meanwhile (a loss closure's kept metrics).
   * tfjs has no scope that owns kept tensors, so the engine's `keep` is wrapped for the duration and
   * always put back.
   */
  ownKeptDuring<T>(fn: () => T): T {
    const kept: tf.Tensor[] = [];
    try {
      return interceptKeeps(kept, fn);
    } finally {
      for (const t of kept) this.owned.add(t);
    }
  }

  /** Disposes every tensor still owned. */
  disposeAll(): void {
    for (const t of this.owned) if (!t.isDisposed) t.dispose();
    this.owned.clear();
  }
}

/**
 * Runs `fn` with a fresh {@link TensorScope} and disposes what it still owns when `fn` returns or
 * throws: `fn` keeps (with `scope.keep`) exactly what it returns.
 */
export function withOwnership<T>(fn: (scope: TensorScope) => T): T {
  const scope = new TensorScope();
  try {
    return fn(scope);
  } finally {
    scope.disposeAll();
  }
}
