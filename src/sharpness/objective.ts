/**
 * The function every sharpness measure looks at: a scalar loss of some tf.Variables, evaluated over a
 * fixed set of examples. A model objective splits its examples into chunks so that no measure ever
 * holds the activations of more than one chunk.
 */
import * as tf from '@tensorflow/tfjs';
import { checkChoice, checkNumber, checkOptionsObject, describeValue } from '../util/validation.js';
import { softmaxCrossEntropyFromLogits } from './crossEntropy.js';

/** One part of a chunked objective: the loss is the weighted sum of its chunks' losses. */
export interface ObjectiveChunk {
  /** Weight of this chunk in the total (for a mean loss: chunk size / number of examples). */
  weight: number;
  /** The chunk's loss at the variables' current values. */
  loss: () => tf.Scalar;
}

/** A scalar loss of `vars`; every measure evaluates it at perturbed values of `vars` and restores them. */
export interface Objective {
  /** The variables the loss is differentiated with respect to (trainable, float32). */
  vars: tf.Variable[];
  /** The loss at the variables' current values. */
  loss: () => tf.Scalar;
  /**
   * Optional split of the loss, `loss() = Σ weight_k · chunks[k].loss()`: when present, gradients and
   * Hessian-vector products are computed chunk by chunk and summed, so memory stays bounded.
   */
  chunks?: readonly ObjectiveChunk[];
  /** Optional: how many examples the loss averages over (fills SharpnessRecord.examples). */
  examples?: number;
}

/** Options of {@link modelObjective}. */
export interface ModelObjectiveOptions {
  /** Examples per chunk (positive integer, default 512). */
  chunkSize?: number;
  /**
   * How the cross-entropy is computed. 'logits': the last layer's pre-softmax output goes through a
   * twice-differentiable log-softmax (needs a tf.Sequential whose last layer is a Dense with softmax
   * activation on rank-2 input); exact, and lets Hessian-vector products use double back-propagation.
   * 'probabilities': −Σ y log(max(p, 1e-7)) on the model's softmax output; tfjs cannot differentiate
   * that twice correctly, so Hessian-vector products fall back to central differences, which are noisy
   * for ReLU networks (the gradient jumps at every ReLU kink the step crosses). 'auto' (default):
   * 'logits' when the model allows it, else 'probabilities'.
   */
  lossFrom?: 'auto' | 'logits' | 'probabilities';
}

/**
 * Examples made on demand, chunk by chunk: for a data set too large to hold as one tensor (a whole
 * training split), the objective asks for each chunk when it needs it and frees it right after.
 */
export interface ExampleSource {
  /** Number of examples (a positive integer). */
  size: number;
  /**
   * Inputs x [count, ...] and one-hot labels y [count, classes] of examples start … start + count − 1.
   * It is called inside the chunk's tf.tidy scope, so tensors it creates are freed once the chunk's
   * loss (or its gradient) has been computed; tensors it returns from a cache of its own are left alone.
   */
  chunk(
    start: number,
    count: number,
  ): {
    /** Inputs [count, ...]. */
    x: tf.Tensor;
    /** One-hot labels [count, classes]. */
    y: tf.Tensor;
  };
}

/** Lower clip of the predicted probability inside the log (Keras' epsilon). */
const PROB_FLOOR = 1e-7;

/**
 * The mean categorical cross-entropy of `model` (softmax outputs) over ALL examples `x`, `y` (one-hot),
 * computed chunk by chunk (each chunk weighted by its size), so every measure holds the activations
 * of one chunk at a time whatever the number of examples. `vars` are the model's trainable weights'
 * underlying tf.Variables, so perturbing them perturbs the model. The tensors `x`, `y` stay owned by
 * the caller and must outlive the objective. Instead of `x`, `y`, an {@link ExampleSource} makes each
 * chunk's examples on demand (for data sets too large for one tensor).
 *
 * With `lossFrom` 'logits' (the default for the project's MLP and CNN) the loss is the exact
 * −log softmax(z)_y from the last layer's logits z; with 'probabilities' it is −Σ y log(max(p, 1e-7)),
 * i.e. tf.metrics.categoricalCrossentropy without its upper clip at 1 − 1e-7 (whose gradient goes
 * through LessEqual, which has no gradient in tfjs). The two agree except on examples whose predicted
 * probability of the true class is below 1e-7, where Keras' clip caps the loss at 16.1.
 * @throws RangeError for an empty data set or a bad chunkSize; TypeError for arguments of the wrong kind.
 */
export function modelObjective(model: tf.LayersModel, x: tf.Tensor, y: tf.Tensor, opts?: ModelObjectiveOptions): Objective;
export function modelObjective(model: tf.LayersModel, source: ExampleSource, opts?: ModelObjectiveOptions): Objective;
export function modelObjective(
  model: tf.LayersModel,
  xOrSource: tf.Tensor | ExampleSource,
  yOrOpts?: tf.Tensor | ModelObjectiveOptions,
  maybeOpts?: ModelObjectiveOptions,
): Objective {
  const fn = 'modelObjective';
  if (model === null || typeof model !== 'object' || typeof (model as tf.LayersModel).apply !== 'function') {
    throw new TypeError(`${fn}: model must be a tf.LayersModel, got ${describeValue(model)}`);
  }
  const fromTensors = xOrSource instanceof tf.Tensor;
  const source = fromTensors ? tensorSource(fn, xOrSource, yOrOpts) : checkSource(fn, xOrSource);
  const opts = (fromTensors ? maybeOpts : yOrOpts) ?? {};
  checkOptionsObject(fn, 'opts', opts, '{ chunkSize: 512 }');
  const { chunkSize: rawChunk, lossFrom: rawLossFrom } = opts as ModelObjectiveOptions;
  const n = source.size;
  const chunkSize = checkNumber(fn, 'chunkSize', rawChunk, 512, { min: 1, integer: true });
  const vars = model.trainableWeights.map((w) => w.read());
  if (vars.length === 0 || !vars.every((v): v is tf.Variable => v instanceof tf.Variable)) {
    throw new TypeError(`${fn}: model must have trainable weights backed by tf.Variable`);
  }

  const lossFrom = checkChoice(fn, 'lossFrom', rawLossFrom, 'auto', ['auto', 'logits', 'probabilities'] as const);
  const logits = lossFrom === 'probabilities' ? null : logitsFunction(model);
  if (lossFrom === 'logits' && logits === null) {
    throw new RangeError(`${fn}: lossFrom 'logits' needs a tf.Sequential whose last layer is a Dense layer with softmax activation`);
  }

  const chunkLoss = (start: number, size: number): tf.Scalar =>
    tf.tidy(() => {
      const { x: xs, y: yRaw } = source.chunk(start, size);
      if (!(xs instanceof tf.Tensor) || !(yRaw instanceof tf.Tensor) || xs.shape[0] !== size || yRaw.rank !== 2 || yRaw.shape[0] !== size) {
        throw new TypeError(
          `${fn}: the example source's chunk(${start}, ${size}) must return tensors x [${size}, ...] and y [${size}, classes]`,
        );
      }
      const ys = yRaw.toFloat();
      const perExample =
        logits !== null
          ? softmaxCrossEntropyFromLogits(ys, logits(xs))
          : tf.neg(tf.sum(tf.mul(ys, tf.log(tf.maximum(model.apply(xs, { training: false }) as tf.Tensor, PROB_FLOOR))), -1));
      return tf.mean(perExample) as tf.Scalar;
    });

  const chunks: ObjectiveChunk[] = [];
  for (let start = 0; start < n; start += chunkSize) {
    const size = Math.min(chunkSize, n - start);
    chunks.push({ weight: size / n, loss: () => chunkLoss(start, size) });
  }
  const loss = (): tf.Scalar => tf.tidy(() => tf.addN(chunks.map((c) => tf.mul(c.loss(), c.weight))) as tf.Scalar);
  return { vars, loss, chunks, examples: n };
}

/** The examples of tensors x, y as a source whose chunks are slices (checked here once). */
function tensorSource(fn: string, x: tf.Tensor, y: unknown): ExampleSource {
  if (x.rank < 2) throw new RangeError(`${fn}: x must be a tensor of rank >= 2 [examples, ...], got rank ${x.rank}`);
  if (!(y instanceof tf.Tensor))
    throw new TypeError(`${fn}: y must be a one-hot tensor of shape [examples, classes], got ${describeValue(y)}`);
  if (y.rank !== 2) throw new RangeError(`${fn}: y must be a one-hot tensor of shape [examples, classes], got rank ${y.rank}`);
  const n = x.shape[0];
  if (n === 0 || y.shape[0] !== n)
    throw new RangeError(`${fn}: x and y must hold the same positive number of examples, got ${n} and ${y.shape[0]}`);
  return { size: n, chunk: (start, count) => ({ x: tf.slice(x, [start], [count]), y: tf.slice(y, [start], [count]) }) };
}

/** Checks an ExampleSource. */
function checkSource(fn: string, source: unknown): ExampleSource {
  const s = source as ExampleSource;
  if (s === null || typeof s !== 'object' || typeof s.chunk !== 'function') {
    throw new TypeError(`${fn}: examples must be tensors x, y or an ExampleSource { size, chunk(start, count) }`);
  }
  if (typeof s.size !== 'number' || !Number.isInteger(s.size) || s.size <= 0) {
    throw new RangeError(`${fn}: source.size must be a positive integer (an empty data set has no loss), got ${String(s.size)}`);
  }
  return s;
}

/**
 * For a tf.Sequential ending in a softmax Dense layer: a function computing that layer's logits (the
 * earlier layers applied as they are, then x·kernel + bias). Null when the model is not of that form.
 */
function logitsFunction(model: tf.LayersModel): ((xs: tf.Tensor) => tf.Tensor) | null {
  if (!(model instanceof tf.Sequential) || model.layers.length === 0) return null;
  const last = model.layers[model.layers.length - 1];
  const config = last.getConfig();
  if (last.getClassName() !== 'Dense' || config.activation !== 'softmax') return null;
  const kernel = last.trainableWeights.find((w) => /kernel(_\d+)?$/.test(w.name));
  const bias = last.trainableWeights.find((w) => /bias(_\d+)?$/.test(w.name));
  if (kernel === undefined || last.trainableWeights.length !== (bias === undefined ? 1 : 2)) return null;
  let inputRank: number;
  try {
    inputRank = (last.input as tf.SymbolicTensor).shape.length;
  } catch {
    return null; // a layer used at several places in a graph has no single input
  }
  if (inputRank !== 2) return null; // Dense on rank > 2 input acts on the last axis: not handled here
  const body = model.layers.slice(0, -1);
  return (xs: tf.Tensor): tf.Tensor => {
    let h = xs;
    for (const layer of body) h = layer.apply(h, { training: false }) as tf.Tensor;
    if (h.rank !== 2)
      throw new RangeError(`modelObjective: the softmax layer's input must be rank 2 [examples, features], got rank ${h.rank}`);
    const z = tf.matMul(h, kernel.read());
    return bias === undefined ? z : tf.add(z, bias.read());
  };
}

/**
 * The loss as a number; for a chunked objective the chunks are summed in float64, exactly as in
 * {@link valueAndGradient}, so that differences of losses from the two (e.g. the surrogate gap) carry
 * no summation-order offset.
 */
export function lossValue(obj: Objective): number {
  const parts = obj.chunks ?? [{ weight: 1, loss: obj.loss }];
  let value = 0;
  for (const part of parts) {
    const t = part.loss();
    value += t.dataSync()[0] * part.weight;
    t.dispose();
  }
  return value;
}

/**
 * Loss (number) and gradient (one tensor per var, caller disposes) at the current values, chunk by
 * chunk when the objective is chunked. A var the loss does not depend on gets a zero gradient.
 */
export function valueAndGradient(obj: Objective): { value: number; grads: tf.Tensor[] } {
  const parts = obj.chunks ?? [{ weight: 1, loss: obj.loss }];
  let value = 0;
  let grads: tf.Tensor[] | null = null;
  for (const part of parts) {
    const next = tf.tidy(() => {
      const r = tf.variableGrads(part.loss, obj.vars);
      value += r.value.dataSync()[0] * part.weight;
      const g = obj.vars.map((v) => {
        const gi = r.grads[v.name];
        return gi == null ? tf.zerosLike(v) : part.weight === 1 ? gi : tf.mul(gi, part.weight);
      });
      return grads === null ? g : g.map((gi, i) => tf.add((grads as tf.Tensor[])[i], gi));
    });
    if (grads !== null) tf.dispose(grads);
    grads = next;
  }
  return { value, grads: grads as tf.Tensor[] };
}
