/**
 * The two-pass sharpness-aware step of ALGORITHMS.md as one pure function for custom training loops:
 * gradients at w, move to w + e, gradients there, move back bit-exactly, combine. It applies nothing:
 * the caller hands `gradients` to any optimiser. Variables (and non-trainable state such as
 * BatchNormalization moving statistics) are left exactly as they were found.
 */
import * as tf from '@tensorflow/tfjs';
import { sharedReference } from '../util/sharedReference.js';
import { atMovedWeights, atShiftedWeights, axpy } from '../util/paramVector.js';
import { withOwnership, type TensorScope } from '../util/tensorScope.js';
import { checkBoolean, checkNumber, describeValue } from '../util/validation.js';
import type { AscentInput, AscentRule } from './ascent.js';
import type { DescentRule, ExampleLossClosure, LossPass } from './descent.js';

export type { ExampleLossClosure, LossPass } from './descent.js';

/** How to take one step. */
export interface SharpnessAwareStepConfig {
  /** The climb: euclidean (SAM), adaptive (ASAM) or elementwise (Adaptive-GSAM). */
  readonly ascent: AscentRule;
  /** The descent: perturbed (SAM, ASAM) or surrogate-gap (GSAM). */
  readonly descent: DescentRule;
  /** Neighbourhood radius for this step (>= 0). With 0 the second pass is skipped: d = g. */
  readonly rho: number;
  /** Coupled L2 weight decay: `d <- d + weightDecay * w` (never enters e or the losses). Default 0. */
  readonly weightDecay?: number;
  /** Added to norms in denominators. Default 1e-12. */
  readonly eps?: number;
  /**
   * Restore every non-trainable variable (e.g. BatchNormalization moving mean/variance) after the
   * pass at w + e, so that only the clean pass updates them. Default true.
   */
  readonly restoreNonTrainable?: boolean;
  /**
   * Whether this step climbs (default true). false: one pass at w, and the direction is the descent
   * rule's `directionWithoutClimb` (by default `d = g`); a climb policy decides this per step.
   */
  readonly climb?: boolean;
  /**
   * m-sharpness (Foret et al., section 4.1): split the mini-batch into this many micro-batches of
   * (nearly) equal size, each with its own perturbation e_i from its own gradient, and descend along
   * the size-weighted mean of their directions `d = Σ (n_i / n) d_i`. Needs an
   * {@link ExampleLossClosure}. Default 1 (one perturbation for the whole batch).
   */
  readonly microBatches?: number;
  /**
   * Gradient accumulation: evaluate every pass of the step in this many parts of the mini-batch and
   * combine their gradients weighted by size, so the step is the one on the whole batch (to float32
   * rounding) with a part's activations in memory at a time. Needs an {@link ExampleLossClosure}.
   * Default 1.
   */
  readonly accumulation?: number;
}

/**
 * An {@link ExampleLossClosure} over a mini-batch of `size` examples: `losses(indices, pass)` returns
 * the loss of each example at `indices` (all of them when null), at the current weights.
 * @example exampleLosses(64, (idx) => tf.tidy(() => perExampleCrossEntropy(model.apply(idx ? tf.gather(x, idx) : x), idx ? tf.gather(y, idx) : y)))
 * @throws RangeError (TypeError for a non-number) unless size is an integer >= 1; TypeError unless losses is a function.
 */
export function exampleLosses(size: number, losses: (indices: tf.Tensor1D | null, pass: LossPass) => tf.Tensor1D): ExampleLossClosure {
  checkNumber('exampleLosses', 'size', size, undefined, { min: 1, integer: true, note: 'examples in the mini-batch' });
  if (typeof losses !== 'function')
    throw new TypeError(`exampleLosses: losses must be a function (indices, pass) => tf.Tensor1D, got ${describeValue(losses)}`);
  return { size, losses };
}

/** True when `f` is an {@link ExampleLossClosure} (rather than a closure of the batch's mean loss). */
export function isExampleLossClosure(f: unknown): f is ExampleLossClosure {
  const c = f as ExampleLossClosure | null;
  return c !== null && typeof c === 'object' && typeof c.losses === 'function' && Number.isInteger(c.size) && c.size >= 1;
}

/** What a step returns. The caller owns (and must dispose) every tensor; see {@link disposeStepResult}. */
export interface SharpnessAwareStepResult {
  /** The clean loss L(w). */
  readonly loss: tf.Scalar;
  /** The perturbed loss L(w + e) (equal to `loss` when the step did not climb or rho is 0). */
  readonly perturbedLoss: tf.Scalar;
  /** The surrogate-gap estimate h = L(w + e) - L(w). */
  readonly surrogateGap: tf.Scalar;
  /** The variables that took part (those with a gradient), in the order of `gradients`. */
  readonly vars: tf.Variable[];
  /** The direction for the base optimiser, one per entry of `vars` (weight decay included). */
  readonly gradients: tf.Tensor[];
}

/** Disposes every tensor of a {@link SharpnessAwareStepResult}. */
export function disposeStepResult(result: SharpnessAwareStepResult): void {
  tf.dispose([result.loss, result.perturbedLoss, result.surrogateGap, ...result.gradients]);
}

/** The trainable variables tfjs differentiates by default (those of `minimize` without a varList). */
export function defaultTrainableVariables(): tf.Variable[] {
  return Object.values(tf.engine().registeredVariables).filter((v) => v.trainable);
}

/**
 * Runs the two-pass step of ALGORITHMS.md on `f` (a loss closure reading `vars`).
 * `f` is called first at w (the clean pass), then at w + e. A variable that gets no gradient from `f`
 * is left out of the step (no perturbation, no direction), as the reference implementations skip
 * parameters whose gradient is None.
 *
 * `f` is either a closure of the batch's mean loss (`() => tf.Scalar`, what `minimize` and
 * `model.fit` hand an optimiser) or an {@link ExampleLossClosure} returning one loss per example,
 * which ESAM's data selection (a descent rule with `exampleShare` below 1), `microBatches` and
 * `accumulation` need. With an ascent rule that needs no gradient (MSAM's), a climbing step makes
 * one pass, at w + e: its `loss` is L(w + e), the only loss it evaluates, and weight decay is taken
 * at w + e too (as msam.py does), where the gradient is.
 */
export function sharpnessAwareStep(
  f: (() => tf.Scalar) | ExampleLossClosure,
  vars: readonly tf.Variable[],
  config: SharpnessAwareStepConfig,
): SharpnessAwareStepResult {
  const { loss, perturbedLoss, vars: active, gradients } = stepWithSettings(f, vars, readStepConfig(config, f));
  return {
    loss,
    perturbedLoss: perturbedLoss ?? sharedReference(loss),
    surrogateGap: perturbedLoss === null ? tf.scalar(0, loss.dtype) : (tf.sub(perturbedLoss, loss) as tf.Scalar),
    vars: active,
    gradients,
  };
}

/**
 * What a step makes, as {@link SharpnessAwareStepResult} without the tensors a one-pass step only
 * copies: `perturbedLoss` is null when the step made one pass (it is then `loss`, and the surrogate
 * gap 0), and the gap is left to the reader (the optimiser reads it as a number when asked).
 */
export interface StepOutcome {
  readonly loss: tf.Scalar;
  readonly perturbedLoss: tf.Scalar | null;
  readonly vars: tf.Variable[];
  readonly gradients: tf.Tensor[];
}

/** The step's settings, checked (by {@link readStepConfig} or {@link stepSettings}). */
export type StepSettings = ReturnType<typeof readStepConfig>;

/**
 * The settings of every step of an optimiser, checked once: `config` without rho and climb, which
 * change per step ({@link stepWithSettings} takes them checked by the caller).
 */
export function stepSettings(config: Omit<SharpnessAwareStepConfig, 'rho' | 'climb'>): StepSettings {
  return readStepConfig({ ...config, rho: 0, climb: true }, undefined);
}

/**
 * The step on settings already checked (the optimiser checks them once, not on every step): the
 * loss closure is checked against them here, as {@link sharpnessAwareStep} does.
 */
export function stepWithSettings(
  f: (() => tf.Scalar) | ExampleLossClosure,
  vars: readonly tf.Variable[],
  settings: StepSettings,
): StepOutcome {
  const needsExamples = settings.microBatches > 1 || settings.accumulation > 1 || settings.exampleShare < 1;
  if (typeof f !== 'function' || needsExamples) checkStepCombination('sharpnessAwareStep', settings, f);
  if (typeof f !== 'function') return exampleStep(f, vars, settings);
  if (settings.climb && settings.rho > 0 && settings.ascent.needsGradient === false) return gradientFreeStep(f, vars, settings);
  return twoPassStep(f, vars, settings);
}

/**
 * The move from w to w + e for `atMovedWeights`: the rule's fused `shiftedWeights` where it has one
 * (no e is made), else w + `perturbation`. `applied` runs once the new values exist (the step frees
 * g there when the descent does not read it, so that g does not live through the pass at w + e).
 */
function moveTo(ascent: AscentRule, input: AscentInput, applied?: () => void): (origin: readonly tf.Tensor[]) => tf.Tensor[] {
  return (origin) => {
    try {
      if (ascent.shiftedWeights !== undefined) return ascent.shiftedWeights(input, origin);
      const e = ascent.perturbation(input);
      try {
        return axpy(origin, e, 1);
      } finally {
        tf.dispose(e);
      }
    } finally {
      applied?.();
    }
  };
}

/** The two-pass step of ALGORITHMS.md on a closure of the batch's mean loss (one pass when it does not climb). */
function twoPassStep(f: () => tf.Scalar, vars: readonly tf.Variable[], settings: StepSettings): StepOutcome {
  const { ascent, descent, rho, weightDecay, eps, restoreNonTrainable, climb } = settings;
  return withOwnership((scope) => {
    // 1. (L, g) = valueAndGrad(L)(w), over the variables that get a gradient.
    const { loss, active, g } = scope.own(cleanPass(f, vars));
    if (rho === 0 || !climb) {
      // One pass. rho = 0 gives e = 0, so g_p = g: the base optimiser's step.
      const d = rho === 0 ? g : scope.own(descent.directionWithoutClimb?.({ vars: active, grads: g, eps }) ?? g);
      const gradients = scope.own(addWeightDecay(d, active, weightDecay));
      return scope.keep({ loss, perturbedLoss: null, vars: active, gradients });
    }
    // 2. e = ascent(w, g, rho), applied as w <- w + e with an exact copy of w kept (and g freed
    //    when the descent does not read it, so that it does not live through pass 2);
    // 3. (L_p, g_p) = valueAndGrad(L)(w + e), owning what f keeps there (tfjs-layers keeps batch
    //    metrics twice; those of this pass are nobody's);
    // 4. w restored bit-exactly, also if f throws (and the non-trainable state, see the config).
    const move = moveTo(ascent, { vars: active, grads: g, rho, eps }, () => {
      if (descent.needsCleanGradient === false) scope.disposeNow(g);
    });
    const alsoRestore = restoreNonTrainable ? nonTrainableVariablesOutside(vars) : [];
    const { value: perturbedLoss, grads: gp } = scope.own(
      atMovedWeights(active, move, () => scope.ownKeptDuring(() => perturbedPass(f, active)), { alsoRestore }),
    );
    // 5. d = descent(g, g_p), plus coupled weight decay wd * w.
    const d = scope.own(descent.direction({ grads: g, perturbedGrads: gp, eps }));
    const gradients = scope.own(addWeightDecay(d, active, weightDecay));
    // 6. is the caller's: the base optimiser applies `gradients` as if they were the gradient.
    return scope.keep({ loss, perturbedLoss, vars: active, gradients });
  });
}

/** The step's settings with their defaults, checked against each other and against the kind of `f`. */
function readStepConfig(config: SharpnessAwareStepConfig, f: unknown) {
  const where = 'sharpnessAwareStep';
  if (typeof config?.ascent?.perturbation !== 'function')
    throw new TypeError(`${where}: config.ascent must be an ascent rule (e.g. euclideanAscent()), got ${describeValue(config?.ascent)}`);
  if (typeof config.descent?.direction !== 'function')
    throw new TypeError(`${where}: config.descent must be a descent rule (e.g. perturbedDescent()), got ${describeValue(config.descent)}`);
  const settings = {
    ascent: config.ascent,
    descent: config.descent,
    rho: checkNumber(where, 'rho', config.rho, undefined, { min: 0 }),
    weightDecay: checkNumber(where, 'weightDecay', config.weightDecay, 0, { min: 0 }),
    eps: checkNumber(where, 'eps', config.eps, 1e-12, { min: 0 }),
    restoreNonTrainable: checkBoolean(where, 'restoreNonTrainable', config.restoreNonTrainable, true),
    climb: checkBoolean(where, 'climb', config.climb, true),
    microBatches: checkNumber(where, 'microBatches', config.microBatches, 1, { min: 1, integer: true }),
    accumulation: checkNumber(where, 'accumulation', config.accumulation, 1, { min: 1, integer: true }),
    exampleShare: checkNumber(where, 'descent.exampleShare', config.descent.exampleShare, 1, { min: 0, minExclusive: true, max: 1 }),
  };
  checkStepCombination(where, settings, f);
  return settings;
}

/** The combinations of rules, options and loss closure that have a meaning; throws for the others. */
export function checkStepCombination(
  where: string,
  s: { ascent: AscentRule; descent: DescentRule; microBatches: number; accumulation: number; exampleShare: number },
  f?: unknown,
): void {
  if (s.microBatches > 1 && s.accumulation > 1) {
    throw new RangeError(
      `${where}: microBatches and accumulation cannot both exceed 1 (each micro-batch is already evaluated on its own), got microBatches ${s.microBatches} and accumulation ${s.accumulation}`,
    );
  }
  if (s.microBatches > 1 && s.descent.state !== undefined) {
    throw new RangeError(
      `${where}: microBatches must be 1 with a descent rule that carries state ('${s.descent.name}': its stored direction has no per-micro-batch form), got ${s.microBatches}`,
    );
  }
  if (s.ascent.needsGradient === false) {
    if (s.microBatches > 1) {
      throw new RangeError(
        `${where}: microBatches must be 1 with an ascent that needs no gradient ('${s.ascent.name}': its perturbation does not depend on the examples; use accumulation), got ${s.microBatches}`,
      );
    }
    if (s.descent.needsCleanGradient !== false || s.exampleShare < 1) {
      throw new TypeError(
        `${where}: the ascent '${s.ascent.name}' makes no pass at w, so the descent must not read the clean gradient or select examples (e.g. perturbedDescent()), got '${s.descent.name}'`,
      );
    }
  }
  if (f === undefined || isExampleLossClosure(f)) return;
  if (typeof f !== 'function')
    throw new TypeError(`${where}: f must be a loss closure () => tf.Scalar or exampleLosses(size, losses), got ${describeValue(f)}`);
  const needs = [
    ...(s.microBatches > 1 ? [`microBatches ${s.microBatches}`] : []),
    ...(s.accumulation > 1 ? [`accumulation ${s.accumulation}`] : []),
    ...(s.exampleShare < 1 ? [`the data selection of '${s.descent.name}' (exampleShare ${s.exampleShare})`] : []),
  ];
  if (needs.length > 0) {
    throw new TypeError(
      `${where}: ${needs.join(' and ')} need one loss per example: pass exampleLosses(size, losses) instead of a closure of the batch's mean loss`,
    );
  }
}

/** Pass 1: L(w) and the gradients of the variables that get one (`active`). */
function cleanPass(f: () => tf.Scalar, vars: readonly tf.Variable[]): { loss: tf.Scalar; active: tf.Variable[]; g: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(f, vars as tf.Variable[]);
  const active = vars.filter((v) => grads[v.name] != null);
  return { loss: value, active, g: active.map((v) => grads[v.name]) };
}

/** Pass 2: L(w + e) and the gradient of each of `active` (zeros where f gives none there). */
function perturbedPass(f: () => tf.Scalar, active: tf.Variable[]): { value: tf.Scalar; grads: tf.Tensor[] } {
  const { value, grads } = tf.variableGrads(f, active);
  return { value, grads: active.map((v) => grads[v.name] ?? tf.zerosLike(v)) };
}

/**
 * `d + wd * w` per variable (new tensors), or `d` itself when wd is 0; with `shift`, the decay is
 * taken at `w + shift` (MSAM's single pass, where its gradient is).
 */
function addWeightDecay(d: tf.Tensor[], vars: readonly tf.Variable[], weightDecay: number, shift?: readonly tf.Tensor[]): tf.Tensor[] {
  if (weightDecay === 0) return d;
  return tf.tidy(() => d.map((x, i) => tf.add(x, tf.mul(weightDecay, shift === undefined ? vars[i] : tf.add(vars[i], shift[i])))));
}

/** Every registered non-trainable variable outside `vars` (moving statistics, etc.). */
function nonTrainableVariablesOutside(vars: readonly tf.Variable[]): tf.Variable[] {
  const inStep = new Set(vars.map((v) => v.name));
  return Object.values(tf.engine().registeredVariables).filter((v) => !v.trainable && !inStep.has(v.name));
}

/**
 * Runs `pass` at w + e for an ascent that needs no gradient (MSAM's one pass). Weight decay is taken
 * at w + e, so with decay e itself is made (owned by `scope`) and `decayShift` gives it for the
 * variables that got a gradient; without decay the rule may fuse its move (no e is made).
 */
function atGradientFreeShift<T>(
  scope: TensorScope,
  ascent: AscentRule,
  input: AscentInput,
  weightDecay: number,
  alsoRestore: tf.Variable[],
  pass: () => T,
): { at: T; decayShift?: (active: readonly tf.Variable[]) => tf.Tensor[] } {
  if (weightDecay === 0) return { at: atMovedWeights(input.vars, moveTo(ascent, input), pass, { alsoRestore }) };
  const e = scope.own(ascent.perturbation(input));
  return {
    at: atShiftedWeights(input.vars, e, pass, { alsoRestore }),
    decayShift: (active) => active.map((v) => e[input.vars.indexOf(v)]),
  };
}

/** Pass at w + e alone (an ascent without gradient): L and the gradients of the variables that get one. */
function gradientFreeStep(f: () => tf.Scalar, vars: readonly tf.Variable[], settings: StepSettings): StepOutcome {
  const { ascent, descent, rho, weightDecay, eps, restoreNonTrainable } = settings;
  return withOwnership((scope) => {
    const alsoRestore = restoreNonTrainable ? nonTrainableVariablesOutside(vars) : [];
    // The only pass of the step: what the closure keeps here is the caller's, as in a clean pass.
    const { at, decayShift } = atGradientFreeShift(scope, ascent, { vars, grads: [], rho, eps }, weightDecay, alsoRestore, () =>
      cleanPass(f, vars),
    );
    const { loss, active, g } = scope.own(at);
    const d = scope.own(descent.direction({ grads: g, perturbedGrads: g, eps }));
    const gradients = scope.own(addWeightDecay(d, active, weightDecay, decayShift?.(active)));
    return scope.keep({ loss, perturbedLoss: null, vars: active, gradients });
  });
}

/** What one perturbation group (the batch, or one micro-batch) gives. */
interface GroupResult {
  loss: tf.Scalar;
  perturbedLoss: tf.Scalar;
  active: tf.Variable[];
  /** The direction before weight decay, one per `active`. */
  d: tf.Tensor[];
  /** Where weight decay is taken relative to w (MSAM's e), or undefined for w itself. */
  decayShift?: tf.Tensor[];
}

/**
 * The step on an {@link ExampleLossClosure}: one perturbation group (the batch) or `microBatches`
 * of them, each evaluated in `accumulation` parts; the groups' losses and directions combine
 * weighted by their sizes.
 */
function exampleStep(f: ExampleLossClosure, vars: readonly tf.Variable[], settings: StepSettings): StepOutcome {
  const groups: (Int32Array | null)[] = settings.microBatches > 1 ? contiguousParts(range(f.size), settings.microBatches) : [null];
  return withOwnership((scope) => {
    const alsoRestore = settings.restoreNonTrainable ? nonTrainableVariablesOutside(vars) : [];
    const results = groups.map((group) => groupStep(scope, f, vars, group, settings, alsoRestore));
    if (results.length === 1) {
      const r = results[0];
      const gradients = scope.own(addWeightDecay(r.d, r.active, settings.weightDecay, r.decayShift));
      return scope.keep({
        loss: r.loss,
        perturbedLoss: r.perturbedLoss,
        vars: r.active,
        gradients,
      });
    }
    // m-sharpness: d = Σ (n_i / n) d_i, and the losses likewise (the batch's mean losses).
    const weights = groups.map((g) => (g as Int32Array).length / f.size);
    const active = vars.filter((v) => results.some((r) => r.active.includes(v)));
    const combined = scope.own(
      tf.tidy(() => {
        const loss = tf.addN(results.map((r, i) => tf.mul(r.loss, weights[i]))) as tf.Scalar;
        const perturbedLoss = tf.addN(results.map((r, i) => tf.mul(r.perturbedLoss, weights[i]))) as tf.Scalar;
        const d = active.map((v) => {
          const terms = results.flatMap((r, i) => {
            const j = r.active.indexOf(v);
            return j < 0 ? [] : [tf.mul(r.d[j], weights[i])];
          });
          return terms.length === 1 ? terms[0] : tf.addN(terms);
        });
        return { loss, perturbedLoss, d };
      }),
    );
    const gradients = scope.own(addWeightDecay(combined.d, active, settings.weightDecay));
    return scope.keep({
      loss: combined.loss,
      perturbedLoss: combined.perturbedLoss,
      vars: active,
      gradients,
    });
  });
}

/** The step of ALGORITHMS.md on one group of examples (null: the whole batch), owned by `scope`. */
function groupStep(
  scope: TensorScope,
  f: ExampleLossClosure,
  vars: readonly tf.Variable[],
  group: Int32Array | null,
  settings: StepSettings,
  alsoRestore: tf.Variable[],
): GroupResult {
  const { ascent, descent, rho, eps, climb, accumulation: parts, exampleShare } = settings;
  if (climb && rho > 0 && ascent.needsGradient === false) {
    // MSAM: one pass, at w + e.
    const shifted = atGradientFreeShift(scope, ascent, { vars, grads: [], rho, eps }, settings.weightDecay, alsoRestore, () =>
      examplePass(f, vars, group, parts, 'perturbed', false),
    );
    const at = scope.own(shifted.at);
    const d = scope.own(descent.direction({ grads: at.grads, perturbedGrads: at.grads, eps }));
    return {
      loss: at.value,
      perturbedLoss: scope.own(sharedReference(at.value)),
      active: at.active,
      d,
      decayShift: shifted.decayShift?.(at.active),
    };
  }
  const selecting = climb && rho > 0 && exampleShare < 1;
  // 1. (L, g) at w, and the examples' losses when the data selection needs them.
  const clean = scope.own(examplePass(f, vars, group, parts, 'clean', selecting));
  const { active, grads: g } = clean;
  if (rho === 0 || !climb) {
    const d = rho === 0 ? g : scope.own(descent.directionWithoutClimb?.({ vars: active, grads: g, eps }) ?? g);
    return { loss: clean.value, perturbedLoss: scope.own(sharedReference(clean.value)), active, d };
  }
  // 2.-4. e from g, then the pass at w + e (on the selected examples with ESAM), w restored bit-exactly.
  const move = moveTo(ascent, { vars: active, grads: g, rho, eps }, () => {
    if (descent.needsCleanGradient === false) scope.disposeNow(g);
  });
  const perturbed = scope.own(
    atMovedWeights(
      active,
      move,
      () =>
        scope.ownKeptDuring(() => {
          if (!selecting) {
            const p = examplePass(f, active, group, parts, 'perturbed', false);
            return { value: p.value, grads: alignGrads(p, active) };
          }
          // ESAM: rank the group's examples by how much their loss rose, descend on the top share.
          const risen = probeLosses(f, group, parts);
          const value = tf.mean(risen) as tf.Scalar;
          const chosen = topRise(risen, clean.losses as tf.Tensor1D, group, exampleShare);
          risen.dispose();
          const p = examplePass(f, active, chosen, parts, 'perturbed', false);
          p.value.dispose();
          return { value, grads: alignGrads(p, active) };
        }),
      { alsoRestore },
    ),
  );
  // 5. d = descent(g, g_p).
  const d = scope.own(descent.direction({ grads: g, perturbedGrads: perturbed.grads, eps }));
  return { loss: clean.value, perturbedLoss: perturbed.value, active, d };
}

/** 0, 1, ..., n - 1. */
function range(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/** `indices` cut into min(parts, length) contiguous pieces whose sizes differ by at most one. */
function contiguousParts(indices: Int32Array, parts: number): Int32Array[] {
  const n = Math.min(parts, indices.length);
  const out: Int32Array[] = [];
  for (let i = 0; i < n; i++) out.push(indices.subarray(Math.floor((i * indices.length) / n), Math.floor(((i + 1) * indices.length) / n)));
  return out;
}

/** A pass's mean loss, the variables that got a gradient, their gradients, and maybe the examples' losses. */
type ExamplePassResult = {
  value: tf.Scalar;
  active: tf.Variable[];
  grads: tf.Tensor[];
  /** One loss per example of the pass, in its order (when asked for). */
  losses?: tf.Tensor1D;
};

/**
 * The mean loss over `indices` (the whole batch when null) and its gradient, evaluated in `parts`
 * contiguous parts whose values and gradients combine weighted by size (one part: the closure is
 * called once, with `null` for the whole batch, exactly as a plain step's closure would be).
 */
function examplePass(
  f: ExampleLossClosure,
  vars: readonly tf.Variable[],
  indices: Int32Array | null,
  parts: number,
  pass: LossPass,
  keepLosses: boolean,
): ExamplePassResult {
  const pieces: (Int32Array | null)[] = parts > 1 || indices !== null ? contiguousParts(indices ?? range(f.size), parts) : [null];
  const total = indices?.length ?? f.size;
  return withOwnership((scope) => {
    let value: tf.Scalar | null = null;
    const sums = new Map<tf.Variable, tf.Tensor>();
    const losses: tf.Tensor1D[] = [];
    for (const piece of pieces) {
      const idx = piece === null ? null : scope.own(tf.tensor1d(piece, 'int32'));
      const w = piece === null ? 1 : piece.length / total;
      const { value: v, grads } = tf.variableGrads(() => {
        const l = f.losses(idx, pass);
        if (keepLosses) losses.push(scope.own(tf.keep(l)));
        return tf.mean(l) as tf.Scalar;
      }, vars as tf.Variable[]);
      scope.own([v, Object.values(grads)]);
      // One piece: its value and gradients as they are (bit-exact with a plain step); several: Σ w_i x_i.
      value =
        pieces.length === 1
          ? v
          : scope.swap(value, tf.tidy(() => (value === null ? tf.mul(v, w) : tf.add(value, tf.mul(v, w)))) as tf.Scalar);
      for (const x of vars) {
        const gi = grads[x.name];
        if (gi == null) continue;
        const prev = sums.get(x);
        sums.set(
          x,
          pieces.length === 1
            ? gi
            : scope.swap(
                prev,
                tf.tidy(() => (prev === undefined ? tf.mul(gi, w) : tf.add(prev, tf.mul(gi, w)))),
              ),
        );
      }
    }
    const active = vars.filter((x) => sums.has(x));
    const result: ExamplePassResult = { value: value as tf.Scalar, active, grads: active.map((x) => sums.get(x) as tf.Tensor) };
    if (keepLosses) result.losses = losses.length === 1 ? losses[0] : scope.own(tf.concat(losses) as tf.Tensor1D);
    return scope.keep(result);
  });
}

/** The gradients of `p` for each of `active`, zeros where the pass gave none (as perturbedPass does). */
function alignGrads(p: ExamplePassResult, active: readonly tf.Variable[]): tf.Tensor[] {
  return active.map((v) => {
    const j = p.active.indexOf(v);
    return j >= 0 ? p.grads[j] : tf.zerosLike(v);
  });
}

/** The group's per-example losses at the current weights, forward only (ESAM's ranking at w + e), in `parts` parts. */
function probeLosses(f: ExampleLossClosure, group: Int32Array | null, parts: number): tf.Tensor1D {
  const pieces: (Int32Array | null)[] = parts > 1 || group !== null ? contiguousParts(group ?? range(f.size), parts) : [null];
  return tf.tidy(() => {
    const out = pieces.map((piece) => {
      const idx = piece === null ? null : tf.tensor1d(piece, 'int32');
      return f.losses(idx, 'probe');
    });
    return (out.length === 1 ? out[0] : tf.concat(out)) as tf.Tensor1D;
  });
}

/**
 * ESAM's selection: the batch positions of the `max(1, floor(share * m))` examples of the group (m
 * of them) whose loss rose most from `before` to `after`, ties to the earlier example, ascending.
 */
function topRise(after: tf.Tensor1D, before: tf.Tensor1D, group: Int32Array | null, share: number): Int32Array {
  const rise = tf.tidy(() => tf.sub(after, before));
  const values = rise.dataSync();
  rise.dispose();
  const m = values.length;
  // 1e-9 absorbs float error in share * m (0.29 * 100 = 28.999999999999996).
  const k = Math.max(1, Math.floor(share * m + 1e-9));
  const order = Array.from({ length: m }, (_, i) => i).sort((a, b) => {
    const va = Number.isNaN(values[a]) ? -Infinity : values[a];
    const vb = Number.isNaN(values[b]) ? -Infinity : values[b];
    return vb - va || a - b;
  });
  const chosen = Int32Array.from(order.slice(0, k)).sort();
  return group === null ? chosen : chosen.map((i) => group[i]);
}
