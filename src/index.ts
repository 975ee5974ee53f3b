/**
 * flatminima: sharpness-aware training (SAM, ASAM, GSAM, Adaptive-GSAM) for TensorFlow.js.
 * The public API, nothing else.
 */
export * from './optimizers/index.js';
