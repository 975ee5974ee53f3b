/**
 * Builds the optimiser a run spec describes: the base tfjs optimiser (sgd / momentum / adam), the
 * sharpness-aware wrapper around it, the rho schedule, and the per-step learning-rate schedule.
 * Every default the spec may omit lives in {@link OPTIMIZER_DEFAULTS}, so the CLI can show them.
 */
import * as tf from '@tensorflow/tfjs';
import {
  AdaptiveGSAM,
  ASAM,
  GSAM,
  proportionalRho,
  SAM,
  setLearningRate,
  type SharpnessAwareOptimizer,
} from '../optimizers/index.js';
import { disposeForgottenOptimizerState } from '../util/tfjsFixes.js';
import type { BaseOptimizerSpec, OptimizerSpec } from './schema.js';

/** The values used when a spec leaves an optimiser option out. */
export const OPTIMIZER_DEFAULTS = Object.freeze({
  /**
   * Neighbourhood radius per method. ASAM's and Adaptive-GSAM's are 10x SAM's because their climb is
   * scaled elementwise: ASAM's by T = |w| + eta, Adaptive-GSAM's (elementwise ascent) by |w| + gamma,
   * and with weights well under 1 that shrinks e far below SAM's at the same rho; 0.5 is ASAM's
   * usual value and the one the Adaptive-GSAM examples use (`--optimizer agsam --rho 0.5`).
   */
  rho: Object.freeze({ sgd: 0, sam: 0.05, asam: 0.5, gsam: 0.05, agsam: 0.5 }),
  /** GSAM / Adaptive-GSAM weight of the orthogonal ascent (GSAM's typical value). */
  alpha: 0.1,
  /** ASAM's T = |w| + eta. */
  eta: 0.01,
  /** Adaptive-GSAM's elementwise (|w| + gamma). */
  gamma: 0.01,
  /** Momentum coefficient of the 'momentum' base. */
  momentum: 0.9,
  /** Coupled L2 weight decay. */
  weightDecay: 0,
  /** Learning-rate schedule. */
  schedule: 'constant' as const,
  /** rho schedule; with 'proportional', rho decays with the learning rate down to rhoMin. */
  rhoSchedule: 'constant' as const,
  rhoMin: 0,
  /** Adaptive-GSAM ascent rule. */
  ascent: 'elementwise' as const,
});

/**
 * The learning rate at 0-based step `step` of a run of `totalSteps` steps:
 * 'constant' lr0; 'cosine' lr0 * (1 + cos(pi * step / totalSteps)) / 2 (reaches 0 at the end of
 * the run); 'step' lr0, then x0.1 from 50 % of the run and x0.01 from 75 %.
 */
export function learningRateAt(base: BaseOptimizerSpec, step: number, totalSteps: number): number {
  if (!Number.isInteger(totalSteps) || totalSteps <= 0) throw new Error(`totalSteps must be a positive integer, got ${totalSteps}`);
  if (!Number.isInteger(step) || step < 0 || step > totalSteps) throw new Error(`step must be an integer in [0, ${totalSteps}], got ${step}`);
  const lr0 = base.learningRate;
  const schedule = base.schedule ?? OPTIMIZER_DEFAULTS.schedule;
  switch (schedule) {
    case 'constant':
      return lr0;
    case 'cosine':
      return (lr0 * (1 + Math.cos((Math.PI * step) / totalSteps))) / 2;
    case 'step':
      return step >= 0.75 * totalSteps ? lr0 * 0.01 : step >= 0.5 * totalSteps ? lr0 * 0.1 : lr0;
    default:
      throw new Error(`base.schedule must be one of constant, cosine, step; got ${String(schedule)}`);
  }
}

/** The smallest learning rate a schedule reaches (the lrMin of GSAM's proportional rho). */
export function minLearningRate(base: BaseOptimizerSpec): number {
  const schedule = base.schedule ?? OPTIMIZER_DEFAULTS.schedule;
  return schedule === 'cosine' ? 0 : schedule === 'step' ? base.learningRate * 0.01 : base.learningRate;
}

/** A run's optimiser with what the training loop needs to drive it. */
export interface BuiltOptimizer {
  /** What the loop calls `minimize` on (the wrapper, or the base for plain SGD). */
  optimizer: tf.Optimizer;
  /** The base tfjs optimiser (receives the learning rate). */
  base: tf.Optimizer;
  /** The sharpness-aware wrapper, or null for plain SGD without weight decay. */
  sharpnessAware: SharpnessAwareOptimizer | null;
  /** Whether perturbed loss and surrogate gap mean anything (false for 'sgd'). */
  perturbs: boolean;
  /** Sets the base learning rate for 0-based run step `step` (call before each step). */
  setStep(step: number): void;
  /** Frees the optimiser's tensors. */
  dispose(): void;
}

function createBase(base: BaseOptimizerSpec): tf.Optimizer {
  switch (base.name) {
    case 'sgd':
      return tf.train.sgd(base.learningRate);
    case 'momentum':
      return tf.train.momentum(base.learningRate, base.momentum ?? OPTIMIZER_DEFAULTS.momentum);
    case 'adam':
      return tf.train.adam(base.learningRate);
    default:
      throw new Error(`base.name must be one of sgd, momentum, adam; got ${String((base as { name: unknown }).name)}`);
  }
}

/**
 * Builds the optimiser for a spec.
 * @param totalSteps optimiser steps in the whole run (epochs x steps per epoch), for the schedules.
 */
export function buildOptimizer(spec: { optimizer: OptimizerSpec; base: BaseOptimizerSpec }, totalSteps: number): BuiltOptimizer {
  const { optimizer: o, base: b } = spec;
  const base = createBase(b);
  const weightDecay = b.weightDecay ?? OPTIMIZER_DEFAULTS.weightDecay;
  const rhoValue = o.rho ?? OPTIMIZER_DEFAULTS.rho[o.name];
  const rho =
    (o.rhoSchedule ?? OPTIMIZER_DEFAULTS.rhoSchedule) === 'proportional'
      ? proportionalRho({ rhoMax: rhoValue, rhoMin: o.rhoMin ?? OPTIMIZER_DEFAULTS.rhoMin, lrMax: b.learningRate, lrMin: minLearningRate(b) })
      : rhoValue;
  const alpha = o.alpha ?? OPTIMIZER_DEFAULTS.alpha;
  const eta = o.eta ?? OPTIMIZER_DEFAULTS.eta;
  let wrapper: SharpnessAwareOptimizer | null;
  switch (o.name) {
    case 'sgd':
      // rho = 0 makes SAM a single pass: exactly the base optimiser plus coupled weight decay.
      wrapper = weightDecay > 0 ? new SAM({ base, rho: 0, weightDecay }) : null;
      break;
    case 'sam':
      wrapper = new SAM({ base, rho, weightDecay });
      break;
    case 'asam':
      wrapper = new ASAM({ base, rho, eta, scope: o.scope, weightDecay });
      break;
    case 'gsam':
      wrapper = new GSAM({ base, rho, alpha, weightDecay });
      break;
    case 'agsam': {
      const ascent = o.ascent ?? OPTIMIZER_DEFAULTS.ascent;
      // The elementwise climb uses gamma; the adaptive one uses eta and scope.
      wrapper =
        ascent === 'adaptive'
          ? new AdaptiveGSAM({ base, rho, alpha, ascent, eta, scope: o.scope, weightDecay })
          : new AdaptiveGSAM({ base, rho, alpha, ascent, gamma: o.gamma ?? OPTIMIZER_DEFAULTS.gamma, weightDecay });
      break;
    }
    default:
      throw new Error(`optimizer.name must be one of sgd, sam, asam, gsam, agsam; got ${String((o as { name: unknown }).name)}`);
  }
  let currentLr = b.learningRate;
  return {
    optimizer: wrapper ?? base,
    base,
    sharpnessAware: wrapper,
    perturbs: o.name !== 'sgd',
    setStep(step: number): void {
      const lr = learningRateAt(b, step, totalSteps);
      // Only touch the optimiser when the rate changes: SGD re-creates a tensor on every set.
      if (lr !== currentLr) {
        setLearningRate(base, lr);
        currentLr = lr;
      }
    },
    dispose(): void {
      // The wrapper disposes its base; disposing a tfjs variable twice throws.
      (wrapper ?? base).dispose();
      disposeForgottenOptimizerState(base);
    },
  };
}
