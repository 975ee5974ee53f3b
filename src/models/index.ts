/** Model factories: plain, uncompiled `tf.Sequential` networks with seeded initial weights. Browser-safe. */
export { createMlp } from './mlp.js';
export { createCnn } from './cnn.js';
