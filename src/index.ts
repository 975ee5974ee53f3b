/**
 * flatminima: sharpness-aware training (SAM, ASAM, GSAM, Adaptive-GSAM) for TensorFlow.js.
 * The public API, nothing else. Everything exported here runs in a browser as well as in Node;
 * the file readers, the experiment runner, the report writer and the backend loader are Node-only
 * and live in `flatminima/node`.
 */
export * from './optimizers/index.js';
export * from './sharpness/index.js';
export { createMlp, createCnn } from './models/index.js';
export { makeMoons } from './data/moons.js';
export { type Dataset, checkDataset, exampleSize, subset, trainTestSplit, toTensors } from './data/dataset.js';
export { Rng, type RngState } from './util/random.js';
