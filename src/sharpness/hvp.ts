/**
 * Hessian-vector products H v of an Objective, by double back-propagation or by central differences
 * of gradients.
 *
 * What tfjs 4.22 can differentiate twice (found by experiment, cpu backend):
 * - Ops whose gradient kernel has no gradient make the second back-propagation throw (in stock tfjs
 *   e.g. Conv2DBackpropFilter, MaxPoolGrad, LogicalAnd inside clipByValue's gradient).
 * - Worse, ops that save their OUTPUT for the backward pass (Exp, Sigmoid, Tanh, Softmax, MaxPool, Pow,
 *   ...) are silently differentiated wrongly: the tape records the saved copy of the output before the
 *   op that produced it, so the second pass drops every term that flows through it (d²/dx² Σ x·eˣ
 *   comes out as (1+x)eˣ instead of (2+x)eˣ).
 * Therefore 'auto' does not trust double back-propagation blindly. On the first product it runs it
 * and, while the tape is recorded, looks at the kernels on it: if one of them saves its output for
 * its gradient (tf.getGradient(kernel).outputsToSave), or the run throws, it switches to central
 * differences for good. Reading the tape needs the engine's internal state; where that is not
 * available, it compares the first product with a central difference instead (`verifyTolerance`),
 * which is a weaker test on ReLU networks (see below).
 * secondOrder.ts (imported with this module) registers the gradients stock tfjs lacks for
 * Conv2DBackpropFilter and MaxPoolGrad, and the tape inspection accepts one output-saving op as
 * harmless: MaxPool, which saves its output only for MaxPoolGrad, whose derivative w.r.t. that output
 * is zero (secondOrderSafeOutputSaver).
 * modelObjective computes its cross-entropy from logits with ops that pass this test (crossEntropy.ts),
 * so the project's MLP and CNN (Conv2D, ReLU, 2x2 max pooling, Dense) get exact products on every
 * backend (the gradient registry is shared by cpu, wasm and webgl; our wasm training kernels only
 * replace forward implementations). Models with other ops (overlapping pooling windows, sigmoid/tanh
 * activations, a probability-space loss) still get central differences, and the reason says why.
 *
 * Central difference: H v ≈ ‖v‖ (∇L(w + r v̂) − ∇L(w − r v̂)) / (2r), v̂ = v/‖v‖, with
 * r = fdRelativeStep · max(1, ‖w‖). The step is relative to ‖w‖ so that the shift of each weight stays
 * resolvable in float32 whatever the weights' scale (a shift of relative size ~1e-3 per weight on
 * average), with a floor of 1 so that w = 0 still gets a step; 1e-3 balances the O(r²) truncation error
 * against the float32 rounding of the gradients, which is amplified by 1/r. On a ReLU network the
 * gradient jumps wherever the step crosses a kink; with many examples the difference quotient picks
 * up those jumps (their sum does not vanish as r → 0, its noise grows), so central differences are a
 * rough estimate there, and double back-propagation, which gives the Hessian of each linear piece,
 * is the one to trust.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective } from './objective.js';
import { valueAndGradient } from './objective.js';
import { secondOrderSafeOutputSaver } from './secondOrder.js';
import { describeValue } from '../util/validation.js';
import { checkMethod, checkNumber, checkObjective, type HvpMethod } from './validate.js';
import { norm, scale, withSnapshot, type ParamVector, type WeightSnapshot } from './vectors.js';

/** The method actually used for the products. */
export type ResolvedHvpMethod = 'double-backprop' | 'finite-difference';

/** Options shared by everything that takes Hessian-vector products. */
export interface HvpOptions {
  /** 'auto' (default): double back-propagation where tfjs computes it correctly, else central differences. */
  method?: HvpMethod;
  /** Central-difference step relative to max(1, ‖w‖); > 0 and <= 0.1, default 1e-3. */
  fdRelativeStep?: number;
  /** 'auto', only where the tape cannot be inspected: largest relative difference between double
   * back-propagation and central differences on the first product that still accepts the former;
   * > 0 and < 1, default 1e-2. */
  verifyTolerance?: number;
}

interface EngineState {
  gradientDepth?: number;
  activeTape?: Array<{ kernelName?: string; saved?: tf.Tensor[] }> | null;
}

/** The tfjs engine's internal state (not public API: every use below tolerates its absence). */
function engineState(): EngineState | undefined {
  return (tf.engine() as unknown as { state?: EngineState }).state;
}

/**
 * After a failed top-level gradient, tfjs leaves its tape (and the tensors it kept for the backward
 * pass) behind: nothing disposes them. This reaches into the engine's state to free them, because no
 * public API does; it only acts when no gradient is being recorded (depth 0), i.e. the tape is ours.
 */
function disposeAbandonedTape(): void {
  const state = engineState();
  if (state === undefined || state.gradientDepth !== 0 || !Array.isArray(state.activeTape)) return;
  for (const node of state.activeTape) {
    for (const t of node.saved ?? []) if (!t.isDisposed) t.dispose();
  }
  state.activeTape = null;
}

/** Marker in the suspects set: the engine's tape could not be read. */
const TAPE_UNREADABLE = '<tape unreadable>';

/**
 * Adds to `out` the kernels recorded on the active tape (forward pass and first back-propagation so
 * far) whose registered gradient uses the op's saved output, which tfjs cannot differentiate through.
 */
function collectOutputSavingKernels(out: Set<string>): void {
  const tape = engineState()?.activeTape;
  if (!Array.isArray(tape)) {
    out.add(TAPE_UNREADABLE);
    return;
  }
  for (const node of tape) {
    if (typeof node.kernelName !== 'string') continue;
    const config = tf.getGradient(node.kernelName);
    if (config?.outputsToSave?.some((saved) => saved) && !secondOrderSafeOutputSaver(node.kernelName)) out.add(node.kernelName);
  }
}

/** Thrown inside the first double back-propagation to stop it once the tape shows it is unreliable. */
class UnreliableSecondOrder extends Error {
  constructor(readonly kernels: string[]) {
    super(`tfjs drops second-order terms through ops that save their output: ${kernels.join(', ')}`);
  }
}

/** Computes H v for one objective around the snapshot's values (internal; see hessianVectorProduct). */
export class HessianVectorProduct {
  /** Method in use; null until the first product when 'auto'. */
  method: ResolvedHvpMethod | null;
  /** Why this method is used (for 'auto': what the first product found). */
  reason: string;
  /** Number of products computed. */
  products = 0;
  private readonly r: number;

  constructor(
    private readonly obj: Objective,
    private readonly snap: WeightSnapshot,
    method: HvpMethod,
    fdRelativeStep: number,
    private readonly verifyTolerance: number,
  ) {
    this.method = method === 'auto' ? null : method;
    this.reason = method === 'auto' ? 'not resolved yet' : 'requested';
    this.r = fdRelativeStep * Math.max(1, norm(snap.saved));
  }

  /** H v (new tensors, caller disposes). */
  apply(v: ParamVector): ParamVector {
    this.products++;
    if (this.method === 'finite-difference') return this.finiteDifference(v);
    if (this.method === 'double-backprop') return this.doubleBackprop(v);
    return this.resolve(v);
  }

  private resolve(v: ParamVector): ParamVector {
    if ((engineState()?.gradientDepth ?? 0) !== 0) {
      // Inside someone else's gradient tape a failure could not be cleaned up: do not try.
      return this.useFiniteDifference(v, 'called inside a gradient tape');
    }
    const suspects = new Set<string>();
    let db: ParamVector;
    try {
      db = this.doubleBackprop(v, suspects);
    } catch (err) {
      disposeAbandonedTape();
      if (err instanceof UnreliableSecondOrder) return this.useFiniteDifference(v, err.message);
      return this.useFiniteDifference(v, `double back-propagation threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (suspects.has(TAPE_UNREADABLE)) return this.verifyAgainstFiniteDifference(v, db);
    this.method = 'double-backprop';
    this.reason = 'every op on the tape is twice differentiable in tfjs';
    return db;
  }

  /** Fallback check when the tape cannot be read: keep `db` if it matches a central difference. */
  private verifyAgainstFiniteDifference(v: ParamVector, db: ParamVector): ParamVector {
    const fd = this.finiteDifference(v);
    const diff = tf.tidy(() => db.map((d, i) => tf.sub(d, fd[i])));
    const scaleRef = Math.max(norm(db), norm(fd));
    const rel = scaleRef === 0 ? 0 : norm(diff) / scaleRef;
    tf.dispose(diff);
    const agree = Number.isFinite(rel) && rel <= this.verifyTolerance;
    this.method = agree ? 'double-backprop' : 'finite-difference';
    this.reason = `tape unreadable; double back-propagation and central differences differ by ${rel.toExponential(2)} (tolerance ${this.verifyTolerance})`;
    tf.dispose(agree ? fd : db);
    return agree ? db : fd;
  }

  private useFiniteDifference(v: ParamVector, reason: string): ParamVector {
    this.method = 'finite-difference';
    this.reason = reason;
    return this.finiteDifference(v);
  }

  /**
   * H v by double back-propagation. With `suspects`, it inspects the tape after the first
   * back-propagation and throws UnreliableSecondOrder if a kernel on it saves its output (or adds
   * TAPE_UNREADABLE to `suspects` when the tape cannot be read).
   */
  private doubleBackprop(v: ParamVector, suspects?: Set<string>): ParamVector {
    const { vars } = this.obj;
    const parts = this.obj.chunks ?? [{ weight: 1, loss: this.obj.loss }];
    let acc: ParamVector | null = null;
    for (const part of parts) {
      const next: ParamVector = tf.tidy(() => {
        const { grads } = tf.variableGrads(() => {
          const inner = tf.variableGrads(part.loss, vars);
          if (suspects !== undefined) {
            collectOutputSavingKernels(suspects);
            const bad = [...suspects].filter((k) => k !== TAPE_UNREADABLE);
            // Abort before the (costly) second pass; the caller frees the abandoned tape.
            if (bad.length > 0) throw new UnreliableSecondOrder(bad.sort());
          }
          const terms = vars.map((w, i) => {
            const g = inner.grads[w.name];
            return g == null ? tf.scalar(0) : tf.sum(tf.mul(g, v[i]));
          });
          return tf.addN(terms) as tf.Scalar;
        }, vars);
        const hv = vars.map((w) => {
          const h = grads[w.name];
          return h == null ? tf.zerosLike(w) : tf.mul(h, part.weight);
        });
        return acc === null ? hv : hv.map((h, i) => tf.add((acc as ParamVector)[i], h));
      });
      if (acc !== null) tf.dispose(acc);
      acc = next;
    }
    return acc as ParamVector;
  }

  private finiteDifference(v: ParamVector): ParamVector {
    const nv = norm(v);
    if (nv === 0) return v.map((t) => tf.zerosLike(t));
    const unit = scale(v, 1 / nv);
    try {
      this.snap.shift(unit, this.r);
      const plus = valueAndGradient(this.obj).grads;
      this.snap.shift(unit, -this.r);
      const minus = valueAndGradient(this.obj).grads;
      this.snap.restore();
      const out = tf.tidy(() => plus.map((p, i) => tf.mul(tf.sub(p, minus[i]), nv / (2 * this.r))));
      tf.dispose([plus, minus]);
      return out;
    } finally {
      this.snap.restore();
      tf.dispose(unit);
    }
  }
}

/** Reads and checks the HVP options (shared by the measures). */
export function readHvpOptions(fn: string, opts: HvpOptions): { method: HvpMethod; fdRelativeStep: number; verifyTolerance: number } {
  return {
    method: checkMethod(fn, opts.method),
    fdRelativeStep: checkNumber(fn, 'fdRelativeStep', opts.fdRelativeStep, 1e-3, { min: 0, minExclusive: true, max: 0.1 }),
    verifyTolerance: checkNumber(fn, 'verifyTolerance', opts.verifyTolerance, 1e-2, {
      min: 0,
      minExclusive: true,
      max: 1,
      maxExclusive: true,
    }),
  };
}

/**
 * One Hessian-vector product H v at the current values of `obj.vars` (synchronous). `v` has one
 * tensor per variable, of the same shapes; the product's tensors belong to the caller. The variables
 * are left bit-identical.
 */
export function hessianVectorProduct(
  obj: Objective,
  v: tf.Tensor[],
  opts: HvpOptions = {},
): {
  /** H v, one tensor per variable (the caller disposes them). */
  product: tf.Tensor[];
  /** How the product was computed. */
  method: ResolvedHvpMethod;
  /** Why that method. */
  methodReason: string;
} {
  const fn = 'hessianVectorProduct';
  checkObjective(fn, obj);
  const what = `${fn}: v must hold one tensor per obj.vars entry, of the same shapes`;
  if (!Array.isArray(v) || !v.every((t) => t instanceof tf.Tensor)) throw new TypeError(`${what}, got ${describeValue(v)}`);
  if (v.length !== obj.vars.length || !v.every((t, i) => tf.util.arraysEqual(t.shape, obj.vars[i].shape))) {
    throw new RangeError(`${what}, got shapes ${JSON.stringify(v.map((t) => t.shape))}`);
  }
  const o = readHvpOptions(fn, opts);
  return withSnapshot(obj.vars, (snap) => {
    const h = new HessianVectorProduct(obj, snap, o.method, o.fdRelativeStep, o.verifyTolerance);
    const product = h.apply(v);
    return { product, method: h.method as ResolvedHvpMethod, methodReason: h.reason };
  });
}
