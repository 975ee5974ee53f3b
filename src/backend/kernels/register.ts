/**
 * Registers flatminima's training kernels for the tfjs `wasm` backend (replacing stock ones where
 * they exist; the stock functions are kept and called for the cases ours do not cover).
 */
import * as tf from '@tensorflow/tfjs';
import { captureStockKernel } from './ops.js';
import { conv2dKernel, fusedConv2dKernel } from './conv-forward.js';
import { conv2dBackpropFilterKernel, conv2dBackpropInputKernel } from './conv-grads.js';
import { batchMatMulKernel, fusedMatMulKernel } from './matmul.js';
import { identityKernel, maxPoolGradKernel } from './pool-sum.js';
import { castKernel } from './cast.js';
import { avgPoolKernel, maxPoolKernel } from './max-pool.js';
import { softmaxKernel } from './softmax.js';
import {
  addKernel,
  multiplyKernel,
  realDivKernel,
  RELU_GRAD_KERNEL,
  reluGradKernel,
  reluKernel,
  stepKernel,
  subKernel,
  sumKernel,
} from './elementwise.js';
import { axpyKernel, globalDotKernel, normalizedAxpyKernel, rejectionKernel } from './param-vector.js';
import { gatherV2Kernel } from './gather.js';
import { AXPY_KERNEL, GLOBAL_DOT_KERNEL, NORMALIZED_AXPY_KERNEL, REJECTION_KERNEL } from '../../util/paramVector.js';
import { installSharedTapeSaves } from '../tape-saves.js';
import { installTrainingFusion } from '../training-fusion.js';
import { registerCrossEntropyGradient } from '../cross-entropy.js';
import { CROSS_ENTROPY_GRAD_KERNEL, CROSS_ENTROPY_KERNEL, crossEntropyGradKernel, crossEntropyKernel } from './cross-entropy.js';

/** Stock wasm kernels the training kernels are composed from (or fall back to). */
export const WASM_BUILDING_BLOCKS: readonly string[] = [
  'Reshape',
  'Transpose',
  'PadV2',
  'Slice',
  'Reverse',
  'Conv2D',
  'FusedConv2D',
  'BatchMatMul',
  '_FusedMatMul',
  'Sum',
  'AvgPool',
  'Multiply',
  'Add',
  'Sub',
  'RealDiv',
  'Relu',
  'Step',
  'Softmax',
  'Cast',
  'MaxPool',
  'NotEqual',
  'GatherV2',
];

/** Our kernels, by tfjs kernel name. */
const TRAINING_KERNELS: Record<string, tf.KernelFunc> = {
  Conv2D: conv2dKernel as unknown as tf.KernelFunc,
  FusedConv2D: fusedConv2dKernel as unknown as tf.KernelFunc,
  Conv2DBackpropFilter: conv2dBackpropFilterKernel as unknown as tf.KernelFunc,
  Conv2DBackpropInput: conv2dBackpropInputKernel as unknown as tf.KernelFunc,
  MaxPoolGrad: maxPoolGradKernel as unknown as tf.KernelFunc,
  BatchMatMul: batchMatMulKernel as unknown as tf.KernelFunc,
  _FusedMatMul: fusedMatMulKernel as unknown as tf.KernelFunc,
  Sum: sumKernel as unknown as tf.KernelFunc,
  Add: addKernel as unknown as tf.KernelFunc,
  Sub: subKernel as unknown as tf.KernelFunc,
  Multiply: multiplyKernel as unknown as tf.KernelFunc,
  RealDiv: realDivKernel as unknown as tf.KernelFunc,
  Relu: reluKernel as unknown as tf.KernelFunc,
  Step: stepKernel as unknown as tf.KernelFunc,
  Softmax: softmaxKernel as unknown as tf.KernelFunc,
  Identity: identityKernel as unknown as tf.KernelFunc,
  Cast: castKernel as unknown as tf.KernelFunc,
  MaxPool: maxPoolKernel as unknown as tf.KernelFunc,
  AvgPool: avgPoolKernel as unknown as tf.KernelFunc,
  GatherV2: gatherV2Kernel as unknown as tf.KernelFunc,
  // flatminima's own kernels (no stock counterpart): see param-vector.ts.
  [GLOBAL_DOT_KERNEL]: globalDotKernel as unknown as tf.KernelFunc,
  [AXPY_KERNEL]: axpyKernel as unknown as tf.KernelFunc,
  [NORMALIZED_AXPY_KERNEL]: normalizedAxpyKernel as unknown as tf.KernelFunc,
  [REJECTION_KERNEL]: rejectionKernel as unknown as tf.KernelFunc,
  // The gradient through a fused ReLU: see ../training-fusion.ts.
  [RELU_GRAD_KERNEL]: reluGradKernel as unknown as tf.KernelFunc,
  // The runner's loss: see ../cross-entropy.ts.
  [CROSS_ENTROPY_KERNEL]: crossEntropyKernel as unknown as tf.KernelFunc,
  [CROSS_ENTROPY_GRAD_KERNEL]: crossEntropyGradKernel as unknown as tf.KernelFunc,
};

/** Names of the kernels {@link registerWasmTrainingKernels} installs. */
export const WASM_TRAINING_KERNEL_NAMES: readonly string[] = Object.keys(TRAINING_KERNELS);

let registered = false;
/** The stock setup function of each kernel we replace, captured at the first registration. */
const stockSetup = new Map<string, tf.KernelConfig['setupFunc']>();

/**
 * Installs the training kernels for backend 'wasm' (idempotent; also puts them back where other
 * kernels, e.g. the native ones of src/backend/native-kernels.ts, replaced them), and the tape's
 * saves by reference that our Identity allows (../tape-saves.ts) and the fused dense and conv
 * layers under a first-order tape (../training-fusion.ts), and the gradient of the runner's loss
 * kernel (../cross-entropy.ts). The wasm backend package must
 * have been imported (it registers the stock kernels). Returns the installed kernel names.
 */
export function registerWasmTrainingKernels(): string[] {
  installSharedTapeSaves();
  installTrainingFusion();
  registerCrossEntropyGradient();
  if (!registered) {
    for (const name of WASM_BUILDING_BLOCKS) captureStockKernel(name);
    for (const name of Object.keys(TRAINING_KERNELS)) stockSetup.set(name, tf.getKernel(name, 'wasm')?.setupFunc);
    registered = true;
  }
  for (const [name, kernelFunc] of Object.entries(TRAINING_KERNELS)) {
    const current = tf.getKernel(name, 'wasm');
    if (current?.kernelFunc === kernelFunc) continue;
    if (current != null) tf.unregisterKernel(name, 'wasm');
    // The stock setupFunc binds the C function the stock kernelFunc calls (our fallback path);
    // tfjs runs setup functions when a backend instance starts, so keep it on our config.
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc, setupFunc: stockSetup.get(name) });
  }
  return [...WASM_TRAINING_KERNEL_NAMES];
}

/** Whether our training kernels are the ones registered for 'wasm' now. */
export function wasmTrainingKernelsRegistered(): boolean {
  return registered && Object.entries(TRAINING_KERNELS).every(([name, f]) => tf.getKernel(name, 'wasm')?.kernelFunc === f);
}
