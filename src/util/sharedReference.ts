/**
 * A second tensor on the same buffer as `t`, made without a kernel call.
 *
 * `tf.clone` is a whole `runKernel(Identity)`; on the cpu backend and on wasm with flatminima's
 * kernels that kernel only adds a reference to the buffer, so the call is pure engine bookkeeping
 * (on the report's MLP a few microseconds, against a 0.2 ms SGD step). This makes the same tensor
 * directly. Written by hand over two tfjs engine internals (tfjs is pinned); other backends (whose
 * Identity may copy) get `tf.clone`. The result is tracked like any new tensor (a tf.tidy frees it
 * unless kept) and records nothing on a gradient tape.
 */
import * as tf from '@tensorflow/tfjs';

/** The engine internals used (tfjs-core 4.22's Engine). */
interface EngineInternals {
  backendName: string;
  backend: tf.KernelBackend;
  makeTensorFromTensorInfo(info: tf.TensorInfo, backend?: tf.KernelBackend): tf.Tensor;
}

/** Backends whose Identity kernel is `incRef` plus the same data id. */
const BY_REFERENCE = new Set(['wasm', 'cpu']);

/** A tensor sharing `t`'s buffer (a clone where the backend's Identity may copy). */
export function sharedReference<T extends tf.Tensor>(t: T): T {
  const engine = tf.engine() as unknown as EngineInternals;
  if (!BY_REFERENCE.has(engine.backendName) || typeof engine.makeTensorFromTensorInfo !== 'function') return t.clone();
  const backend = engine.backend;
  backend.incRef(t.dataId);
  return engine.makeTensorFromTensorInfo({ dataId: t.dataId, shape: t.shape, dtype: t.dtype }, backend) as T;
}
