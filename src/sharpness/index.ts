/**
 * Sharpness measures of a loss around the current weights: Hessian top eigenvalue and trace,
 * surrogate gap (Lemma 3), adaptive sharpness, filter-normalised loss-landscape slices. Every
 * function is synchronous, disposes the tensors it makes and leaves the weights bit-identical.
 */
export { modelObjective, type Objective, type ObjectiveChunk, type ModelObjectiveOptions } from './objective.js';
export { hessianVectorProduct, type HvpOptions, type ResolvedHvpMethod } from './hvp.js';
export { registerSecondOrderGradients } from './secondOrder.js';
export type { HvpMethod } from './validate.js';
export {
  hessianTopEigenvalue,
  hessianTrace,
  type TopEigenvalueOptions,
  type TopEigenvalueResult,
  type TraceOptions,
  type TraceResult,
} from './hessian.js';
export {
  surrogateGap,
  adaptiveSharpness,
  type SurrogateGapResult,
  type AdaptiveSharpnessOptions,
  type AdaptiveSharpnessResult,
} from './gap.js';
export {
  lossLandscape1D,
  lossLandscape2D,
  filterNormalizedDirection,
  type LandscapeOptions,
  type VectorVariableMode,
} from './landscape.js';
export { measureSharpness, type MeasureOptions } from './measure.js';
