/**
 * First-order tape saves by reference, on the wasm backend with flatminima's kernels.
 *
 * While tfjs records a gradient tape, every kernel saves the tensors its gradient will read
 * through `engine.clone`: a full `runKernel(Identity)` plus a tape node for the clone. That node
 * exists for higher-order gradients (the gradient's own ops then read the clone, and an outer
 * tape must trace it back to the original). At tape depth 1 there is no outer tape: the backward
 * pass runs untaped, the clone's node is never on a path to the result and is filtered out, and
 * the clone only has to be a second, kept tensor on the same buffer. Our Identity kernel already
 * shares the buffer (pool-sum.ts), so this module makes that tensor directly. On the report's MLP
 * an SGD step saves 35 tensors, and the shortcut takes about 15 % off the step (README,
 * Performance).
 *
 * Written by hand: it patches one method of the tfjs engine, whose version is pinned
 * (wasm-internals.ts checks it at start-up). It is installed with our wasm kernels; tapes of depth
 * 2 and more (higher-order gradients) and other backends keep tfjs's own method.
 */
import * as tf from '@tensorflow/tfjs';
import { sharedReference } from '../util/sharedReference.js';

/** The engine internals the shortcut reads (tfjs-core 4.22's Engine). */
interface EngineInternals {
  state: { gradientDepth: number };
  backendName: string;
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
}

let installed = false;
let enabled = true;

/**
 * Whether the shortcut applies to a save made now: a first-order tape on wasm. (Sharing a buffer is
 * what our Identity does anyway, and safe with the stock kernels too: no kernel writes its inputs.
 * Not checked per call: a kernel-registry lookup per save costs what the shortcut saves.)
 */
function sharesNow(engine: EngineInternals): boolean {
  return enabled && engine.state.gradientDepth === 1 && engine.backendName === 'wasm';
}

/**
 * Installs the shortcut on the tfjs engine (idempotent). Where the engine lacks the method (a tfjs
 * other than the pinned one), nothing is installed and false is returned.
 */
export function installSharedTapeSaves(): boolean {
  if (installed) return true;
  const engine = tf.engine() as unknown as EngineInternals;
  if (typeof engine.saveTensorsForBackwardMode !== 'function') return false;
  const stock = engine.saveTensorsForBackwardMode;
  installed = true;
  engine.saveTensorsForBackwardMode = function (this: EngineInternals, tensors: tf.Tensor[]): tf.Tensor[] {
    if (!sharesNow(this)) return stock.call(this, tensors);
    // What clone() + keep() leave behind, minus the kernel call and the tape node.
    return tensors.map((t) => tf.keep(sharedReference(t)));
  };
  return true;
}

/**
 * Turns the shortcut on or off (on by default once installed); returns the previous setting. For
 * tests and measurements that compare it with tfjs's own saves.
 */
export function setSharedTapeSaves(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
