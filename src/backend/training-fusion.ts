/**
 * Dense and convolution layers fused under a first-order gradient tape, on wasm with our kernels.
 *
 * tfjs's `fused.matMul` and `fused.conv2d` (what tfjs-layers' Dense and Conv2D call) fuse the bias
 * and the activation only while no tape records, or for a linear activation: while a gradient is
 * taken, a ReLU layer runs as the product, an Add and a Relu, and its gradient as Step, Cast and
 * Multiply for the ReLU, Sum and Reshape for the bias, and the two products (each with three
 * Reshapes for a dense layer). The restriction exists because those ops must be differentiable
 * again for higher-order gradients. At tape depth 1 they never are (the backward pass runs
 * untaped), so here such a layer is one `_FusedMatMul` / `FusedConv2D` kernel, whose gradient,
 * registered below, is one {@link RELU_GRAD_KERNEL} (dy * step(y)), the two products and one Sum
 * for the bias: four kernels in place of about twenty for a dense layer, and for a convolution two
 * passes over its output in place of six.
 *
 * Tapes of depth 0 (tfjs fuses already) and of depth 2 and more (Hessian-vector products), other
 * backends, and cases outside the covered ones (other activations, NCHW, dilations, rounding
 * modes, other bias shapes, other ranks) keep tfjs's op. Written by hand: it replaces two
 * properties of tfjs's `fused` namespace object, which tfjs-layers reads at each call (tfjs is
 * pinned, wasm-internals.ts checks the version); where that object cannot be written (an ES-module
 * bundle), nothing is installed.
 */
import * as tf from '@tensorflow/tfjs';
import { RELU_GRAD_KERNEL } from './kernels/elementwise.js';

type FusedMatMulArgs = Parameters<typeof tf.fused.matMul>[0];
type FusedConv2dArgs = Parameters<typeof tf.fused.conv2d>[0];
type FusedOps = { matMul: (args: FusedMatMulArgs) => tf.Tensor; conv2d: (args: FusedConv2dArgs) => tf.Tensor };

/** The engine state the fusion reads (tfjs-core 4.22's Engine). */
interface EngineState {
  state: { gradientDepth: number };
  backendName: string;
}

/** Attribute passed with our kernels so the gradient knows the bias's rank (1 or 2). */
const BIAS_RANK_ATTR = 'flatminimaBiasRank';

let installed = false;
let enabled = true;

/** Whether a fused op called now may take the fused path: a first-order tape on wasm. */
function fusesNow(): boolean {
  const engine = tf.engine() as unknown as EngineState;
  return enabled && engine.state.gradientDepth === 1 && engine.backendName === 'wasm';
}

function isFloatTensor(x: unknown): x is tf.Tensor {
  return x instanceof tf.Tensor && x.dtype === 'float32';
}

function coveredActivation(activation: unknown, prelu: unknown): activation is 'linear' | 'relu' | undefined {
  return prelu == null && (activation == null || activation === 'linear' || activation === 'relu');
}

/** dy through the activation whose output is y: dy itself (linear), or dy * step(y) (ReLU). */
function throughActivation(dy: tf.Tensor, y: tf.Tensor, activation: unknown): tf.Tensor {
  if (activation == null || activation === 'linear') return dy;
  if (activation !== 'relu') throw new Error(`flatminima: no fused gradient for activation '${String(activation)}'`);
  if (tf.getKernel(RELU_GRAD_KERNEL, tf.getBackend()) == null) return tf.mul(dy, tf.step(y));
  return tf.engine().runKernel(RELU_GRAD_KERNEL, { dy, y }) as tf.Tensor;
}

/** op(x) op(z) for 2-D x and z, as one BatchMatMul kernel (our kernels keep rank 2). */
function product(x: tf.Tensor, z: tf.Tensor, transposeX: boolean, transposeZ: boolean): tf.Tensor {
  const out = tf.engine().runKernel('BatchMatMul', { a: x, b: z }, { transposeA: transposeX, transposeB: transposeZ }) as tf.Tensor;
  if (out.rank === 2) return out;
  const rows = out.shape[out.rank - 2]!;
  const cols = out.shape[out.rank - 1]!;
  return tf.reshape(out, [rows, cols]);
}

/** The sum of `g` over its leading axes, shaped as a bias of rank `biasRank` (1, or the rank of g). */
function biasGradient(g: tf.Tensor, biasRank: unknown): tf.Tensor {
  const axis = [...Array(g.rank - 1).keys()];
  return tf.engine().runKernel('Sum', { x: g }, { axis, keepDims: biasRank === g.rank }) as tf.Tensor;
}

/** The fused-path form of a dense product, or null where tfjs's own op must run. */
function denseCase(args: FusedMatMulArgs): { a: tf.Tensor; b: tf.Tensor; bias?: tf.Tensor; attrs: Record<string, unknown> } | null {
  const { a, b, bias, activation, preluActivationWeights } = args;
  const transposeA = args.transposeA === true;
  const transposeB = args.transposeB === true;
  if (!isFloatTensor(a) || !isFloatTensor(b) || a.rank !== 2 || b.rank !== 2) return null;
  if (!coveredActivation(activation, preluActivationWeights)) return null;
  // Mismatched inner dims go to tfjs's op, for its error message.
  if ((transposeA ? a.shape[0] : a.shape[1]) !== (transposeB ? b.shape[1] : b.shape[0])) return null;
  const n = transposeB ? b.shape[0]! : b.shape[1]!;
  const attrs: Record<string, unknown> = { transposeA, transposeB, activation: activation ?? 'linear', leakyreluAlpha: 0.2 };
  if (bias == null) return { a, b, attrs };
  if (!isFloatTensor(bias)) return null;
  const perColumn = (bias.rank === 1 && bias.shape[0] === n) || (bias.rank === 2 && bias.shape[0] === 1 && bias.shape[1] === n);
  if (!perColumn) return null;
  return { a, b, bias, attrs: { ...attrs, [BIAS_RANK_ATTR]: bias.rank } };
}

function isOne(v: unknown): boolean {
  return v == null || v === 1 || (Array.isArray(v) && v.every((d) => d === 1));
}

/** The fused-path form of a convolution, or null where tfjs's own op must run. */
function convCase(args: FusedConv2dArgs): { x: tf.Tensor; filter: tf.Tensor; bias?: tf.Tensor; attrs: Record<string, unknown> } | null {
  const { x, filter, bias, activation, preluActivationWeights, dataFormat, dilations, dimRoundingMode } = args;
  if (!isFloatTensor(x) || !isFloatTensor(filter) || x.rank !== 4 || filter.rank !== 4) return null;
  if (!coveredActivation(activation, preluActivationWeights)) return null;
  if ((dataFormat ?? 'NHWC') !== 'NHWC' || !isOne(dilations) || dimRoundingMode != null) return null;
  if (x.shape[3] !== filter.shape[2]) return null;
  const attrs: Record<string, unknown> = {
    strides: args.strides,
    pad: args.pad,
    dataFormat: 'NHWC',
    dilations: [1, 1],
    dimRoundingMode: undefined,
    activation: activation ?? 'linear',
    leakyreluAlpha: 0.2,
  };
  if (bias == null) return { x, filter, attrs };
  if (!isFloatTensor(bias) || bias.rank !== 1 || bias.shape[0] !== filter.shape[3]) return null;
  return { x, filter, bias, attrs: { ...attrs, [BIAS_RANK_ATTR]: 1 } };
}

function fusedDense(stock: FusedOps['matMul']): FusedOps['matMul'] {
  return (args) => {
    const c = fusesNow() ? denseCase(args) : null;
    if (c == null) return stock(args);
    const inputs: tf.NamedTensorMap = c.bias == null ? { a: c.a, b: c.b } : { a: c.a, b: c.b, bias: c.bias };
    const rows = c.attrs.transposeA === true ? c.a.shape[1]! : c.a.shape[0]!;
    const cols = c.attrs.transposeB === true ? c.b.shape[0]! : c.b.shape[1]!;
    return tf.tidy(() => {
      const y = tf.engine().runKernel('_FusedMatMul', inputs, c.attrs as tf.NamedAttrMap) as tf.Tensor;
      // The stock kernel (our fallback for some shapes) answers rank 3.
      return y.rank === 2 ? y : tf.reshape(y, [rows, cols]);
    });
  };
}

function fusedConv(stock: FusedOps['conv2d']): FusedOps['conv2d'] {
  return (args) => {
    const c = fusesNow() ? convCase(args) : null;
    if (c == null) return stock(args);
    const inputs: tf.NamedTensorMap = c.bias == null ? { x: c.x, filter: c.filter } : { x: c.x, filter: c.filter, bias: c.bias };
    return tf.engine().runKernel('FusedConv2D', inputs, c.attrs as tf.NamedAttrMap) as tf.Tensor;
  };
}

/** The gradient of a top-level `_FusedMatMul` on 2-D operands (linear or ReLU, bias per column). */
const fusedMatMulGradient: tf.GradConfig = {
  kernelName: '_FusedMatMul',
  inputsToSave: ['a', 'b'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [a, b, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const transposeA = attrs.transposeA === true;
    const transposeB = attrs.transposeB === true;
    const g0 = throughActivation(dy as tf.Tensor, y, attrs.activation);
    const g = g0.rank === 2 ? g0 : tf.reshape(g0, y.shape.slice(-2) as [number, number]);
    // The rules of tfjs's fused matMul gradient, on 2-D operands.
    return {
      a: () => (transposeA ? product(b, g, transposeB, true) : product(g, b, false, !transposeB)),
      b: () => (transposeB ? product(g, a, true, transposeA) : product(a, g, !transposeA, false)),
      // Asked for only where the node has a bias input.
      bias: () => biasGradient(g, attrs[BIAS_RANK_ATTR] ?? 1),
    };
  },
};

/** The gradient of a top-level `FusedConv2D` (NHWC, no dilation, linear or ReLU, bias [Co]). */
const fusedConv2dGradient: tf.GradConfig = {
  kernelName: 'FusedConv2D',
  inputsToSave: ['x', 'filter'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, filter, y] = saved as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
    if (attrs.dataFormat !== 'NHWC' || !isOne(attrs.dilations))
      throw new Error('flatminima: the fused conv2d gradient covers NHWC without dilation only');
    const g = throughActivation(dy as tf.Tensor, y, attrs.activation);
    const common = { strides: attrs.strides, pad: attrs.pad, dataFormat: 'NHWC', dimRoundingMode: attrs.dimRoundingMode };
    return {
      x: () => tf.engine().runKernel('Conv2DBackpropInput', { dy: g, filter }, { ...common, inputShape: x.shape }) as tf.Tensor,
      filter: () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy: g }, { ...common, filterShape: filter.shape }) as tf.Tensor,
      bias: () => biasGradient(g, attrs[BIAS_RANK_ATTR] ?? 1),
    };
  },
};

/**
 * Installs the fused path (idempotent). Returns false, and installs nothing, where tfjs already has
 * gradients for these kernels or its `fused` object cannot be written.
 */
export function installTrainingFusion(): boolean {
  if (installed) return true;
  if (tf.getGradient('_FusedMatMul') != null || tf.getGradient('FusedConv2D') != null) return false;
  const fused = tf.fused as unknown as FusedOps;
  const stock = { matMul: fused.matMul, conv2d: fused.conv2d };
  const patched = { matMul: fusedDense(stock.matMul), conv2d: fusedConv(stock.conv2d) };
  try {
    fused.matMul = patched.matMul;
    fused.conv2d = patched.conv2d;
  } catch {
    // Read-only (an ES-module namespace): fall through to the check.
  }
  if (fused.matMul !== patched.matMul || fused.conv2d !== patched.conv2d) {
    try {
      fused.matMul = stock.matMul;
      fused.conv2d = stock.conv2d;
    } catch {
      // Nothing was written.
    }
    return false;
  }
  tf.registerGradient(fusedMatMulGradient);
  tf.registerGradient(fusedConv2dGradient);
  installed = true;
  return true;
}

/**
 * Turns the fused path on or off (on by default once installed); returns the previous setting. For
 * tests and measurements that compare it with tfjs's own ops.
 */
export function setTrainingFusion(on: boolean): boolean {
  const was = enabled;
  enabled = on;
  return was;
}
