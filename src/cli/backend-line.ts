/**
 * The backend line the commands print: which backend runs and whether the native kernels are in
 * use, e.g. `backend: native; native: oneDNN 2.6.3 (avx512_core), 1 thread` or
 * `backend: wasm, 1 thread; native: not built (no libdnnl found)`.
 */
import type { BackendInfo } from '../backend/index.js';
import { describeNative, nativeAddon } from '../backend/native.js';

function threadsText(threads: number | null, suffix = ''): string {
  return threads == null ? '' : `, ${threads} thread${threads === 1 ? '' : 's'}${suffix}`;
}

/** The line for a backend this process started. */
export function backendLine(info: BackendInfo): string {
  // The native part names the threads itself.
  return `backend: ${info.name}${info.name === 'native' ? '' : threadsText(info.threads)}; ${info.native}`;
}

/**
 * The line for runs that start their backend in their own processes (compare, reproduce): what was
 * asked for and what this machine's native addon offers them. Each run's record says what ran.
 */
export function plannedBackendLine(backend: string, threads: number | null): string {
  const perRun = threadsText(threads, ' per run');
  if (backend !== 'auto' && backend !== 'native') return `backend: ${backend}${perRun}; native: not used (backend '${backend}')`;
  const asked = `backend: ${backend}${backend === 'auto' ? " (each run's record says which ran)" : ''}`;
  try {
    const status = nativeAddon();
    return status.available ? `${asked}; ${describeNative(status, null)}${perRun}` : `${asked}${perRun}; ${describeNative(status, null)}`;
  } catch (err) {
    return `${asked}${perRun}; native: ${(err as Error).message}`;
  }
}
