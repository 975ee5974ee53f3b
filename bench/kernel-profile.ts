/**
 * Where a training step's time goes: every kernel registered for a backend is wrapped with a timer,
 * so a step splits into the time inside kernel functions (by kernel name) and the rest, which is the
 * tfjs engine's JavaScript (tape, bookkeeping, gradient functions) plus the optimiser's own code.
 * Each figure is taken as wall time and as CPU time of the process (user + system), which a loaded
 * machine inflates less. For the bench only: the wrappers cost about 1 us per kernel call (the CPU
 * clock is read through a system call), so profiled steps are timed apart from the bench's plain ones.
 */
import * as tf from '@tensorflow/tfjs';

/** Time and calls of one kernel over the profiled steps. */
export interface KernelTime {
  name: string;
  ms: number;
  /** CPU time of the process inside the kernel, ms. */
  cpuMs: number;
  calls: number;
}

/** A profile of `steps` steps: per-step figures. */
export interface StepProfile {
  steps: number;
  /** Wall time of a step, ms (mean over the profiled steps). */
  stepMs: number;
  /** CPU time of a step, ms. */
  stepCpuMs: number;
  /** Time inside kernel functions per step, ms. */
  kernelMs: number;
  /** CPU time inside kernel functions per step, ms. */
  kernelCpuMs: number;
  /** Kernel calls per step. */
  kernelCalls: number;
  /** Per kernel name, ms and calls per step, largest first. */
  kernels: KernelTime[];
}

/**
 * Profiles `steps` calls of `step` on the active backend. The registry entries are replaced by
 * timing wrappers for the duration and restored afterwards (also when `step` throws).
 */
export function profileSteps(step: () => void, steps: number): StepProfile {
  const backendName = tf.getBackend();
  const configs = tf.getKernelsForBackend(backendName);
  const totals = new Map<string, { ms: number; cpuMs: number; calls: number }>();
  let depth = 0;
  const originals: tf.KernelConfig[] = [];
  for (const config of configs) {
    const inner = config.kernelFunc;
    const slot = { ms: 0, cpuMs: 0, calls: 0 };
    totals.set(config.kernelName, slot);
    // A kernel that runs other kernels through the engine would count twice: only the outermost
    // call is timed (ours call the stock functions directly, outside the registry, so this is rare).
    const timed: tf.KernelFunc = (args) => {
      if (depth > 0) return inner(args);
      depth++;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      try {
        return inner(args);
      } finally {
        slot.ms += performance.now() - t0;
        const c = process.cpuUsage(c0);
        slot.cpuMs += (c.user + c.system) / 1000;
        slot.calls++;
        depth--;
      }
    };
    originals.push(config);
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({ ...config, kernelFunc: timed });
  }
  let wall = 0;
  let cpu = 0;
  try {
    for (let s = 0; s < steps; s++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      step();
      wall += performance.now() - t0;
      const c = process.cpuUsage(c0);
      cpu += (c.user + c.system) / 1000;
    }
  } finally {
    for (const config of originals) {
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel(config);
    }
  }
  const kernels = [...totals.entries()]
    .filter(([, t]) => t.calls > 0)
    .map(([name, t]) => ({ name, ms: t.ms / steps, cpuMs: t.cpuMs / steps, calls: t.calls / steps }))
    .sort((a, b) => b.ms - a.ms);
  return {
    steps,
    stepMs: wall / steps,
    stepCpuMs: cpu / steps,
    kernelMs: kernels.reduce((s, k) => s + k.ms, 0),
    kernelCpuMs: kernels.reduce((s, k) => s + k.cpuMs, 0),
    kernelCalls: kernels.reduce((s, k) => s + k.calls, 0),
    kernels,
  };
}
