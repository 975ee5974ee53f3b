/**
 * Datasets: two moons (browser-safe), the embedded MNIST digits, and IDX files (full MNIST,
 * Fashion-MNIST). A browser bundle should import `./moons.js` and `./dataset.js` directly, since the
 * MNIST and IDX loaders read files with Node APIs.
 */
export { type Dataset, checkDataset, exampleSize, subset, trainTestSplit, toTensors } from './dataset.js';
export { makeMoons } from './moons.js';
export { loadEmbeddedMnist, DIGIT_CLASSES } from './mnist.js';
export { readIdxFile, writeIdxFile, parseIdx, type IdxFile, type IdxDtype } from './idx.js';
export { loadIdxDataset, FASHION_MNIST_CLASSES } from './idxDataset.js';
