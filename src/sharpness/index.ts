/**
 * Sharpness measures of a loss around the current weights: Hessian top eigenvalue and trace, the
 * spectrum (top-k eigenvalues, spectral density, per-layer blocks), surrogate gap (Lemma 3), adaptive
 * sharpness, filter-normalised loss-landscape slices. Every function is synchronous, disposes the
 * tensors it makes and leaves the weights bit-identical.
 */
export { modelObjective, type Objective, type ObjectiveChunk, type ModelObjectiveOptions, type ExampleSource } from './objective.js';
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
export {
  hessianTopEigenvalues,
  hessianSpectralDensity,
  hessianLayerSharpness,
  type TopEigenvaluesOptions,
  type TopEigenvaluesResult,
  type SpectralDensityOptions,
  type SpectralDensityResult,
  type DensityRun,
  type LayerSharpnessOptions,
  type LayerSharpnessResult,
  type LayerSharpness,
} from './spectrum.js';
export {
  measureSharpness,
  measureSharpnessDetailed,
  sharpnessRecord,
  type MeasureOptions,
  type DetailedSharpness,
  type SharpnessMeasures,
} from './measure.js';
