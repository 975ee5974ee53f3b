/** Sharpness-aware optimisers: rules, climb policies, the pure step, the tf.Optimizer wrapper, the presets and the method table. */
export { SAM, ASAM, GSAM, AdaptiveGSAM, LookSAM, MomentumSAM, ESAM } from './presets.js';
export type {
  SAMOptions,
  ASAMOptions,
  GSAMOptions,
  AdaptiveGSAMOptions,
  LookSAMOptions,
  MomentumSAMOptions,
  ESAMOptions,
} from './presets.js';
export { SharpnessAwareOptimizer, optimizerSeeds, type CommonOptions, type SharpnessAwareOptions } from './optimizer.js';
export {
  sharpnessAwareStep,
  disposeStepResult,
  exampleLosses,
  isExampleLossClosure,
  type SharpnessAwareStepConfig,
  type SharpnessAwareStepResult,
  type ExampleLossClosure,
  type LossPass,
} from './step.js';
export {
  euclideanAscent,
  adaptiveAscent,
  elementwiseAscent,
  stochasticAscent,
  momentumAscent,
  isScaled,
  type AscentRule,
  type AscentInput,
  type AdaptiveScope,
} from './ascent.js';
export {
  perturbedDescent,
  surrogateGapDescent,
  lookSamDescent,
  sharpnessSensitiveDescent,
  type DescentRule,
  type DescentInput,
  type OnePassInput,
} from './descent.js';
export { everyStep, everyKthStep, randomClimb, allOf, type ClimbPolicy, type ClimbContext } from './climb.js';
export { rngState, type RuleState, type MaybeStateful, type NamedTensor } from './ruleState.js';
export { describeOptionRule, type OptionRule, type NumberOptionRule, type ChoiceOptionRule } from './options.js';
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
export {
  METHODS,
  METHOD_IDS,
  REPORT_METHOD_IDS,
  SPEC_FIELDS,
  methodRow,
  methodsTaking,
  methodOptions,
  fieldFlag,
  disposeMethodOptimizer,
  type MethodRow,
  type MethodName,
  type MethodOptions,
  type SpecField,
  type SpecFields,
} from './methods.js';
