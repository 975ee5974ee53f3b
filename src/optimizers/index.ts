/** Sharpness-aware optimisers: rules, climb policies, the pure step, the tf.Optimizer wrapper, the four presets. */
export { SAM, ASAM, GSAM, AdaptiveGSAM } from './presets.js';
export type { SAMOptions, ASAMOptions, GSAMOptions, AdaptiveGSAMOptions } from './presets.js';
export { SharpnessAwareOptimizer, type CommonOptions, type SharpnessAwareOptions } from './optimizer.js';
export { sharpnessAwareStep, disposeStepResult, type SharpnessAwareStepConfig, type SharpnessAwareStepResult } from './step.js';
export { euclideanAscent, adaptiveAscent, elementwiseAscent, isScaled, type AscentRule, type AscentInput, type AdaptiveScope } from './ascent.js';
export { perturbedDescent, surrogateGapDescent, type DescentRule, type DescentInput, type OnePassInput } from './descent.js';
export { everyStep, type ClimbPolicy, type ClimbContext } from './climb.js';
export type { RuleState, MaybeStateful, NamedTensor } from './ruleState.js';
export {
  proportionalRho,
  rhoAt,
  getLearningRate,
  setLearningRate,
  type RhoOption,
  type RhoFunction,
  type RhoContext,
  type ProportionalRho,
} from './schedules.js';
export { SharpnessMetricsCallback } from './callbacks.js';
