/**
 * Node-only loader of flatminima's optional native addon (`native/`: oneDNN kernels that work in
 * place on the wasm backend's memory). The addon is built by `npm ci` where oneDNN's headers
 * (Debian `libdnnl-dev`) and a C++ compiler exist, or by `npx flatminima build-native`; everywhere
 * else this module reports why it is absent and the wasm kernels are used.
 *
 * `FLATMINIMA_NATIVE=0` in the environment turns the addon off (it is then neither loaded nor
 * built); unset or `1` leaves it on.
 *
 * The addon's threads are OpenMP's (Debian's oneDNN is built on libgomp). Unless the environment
 * says otherwise, they wait passively after a short spin (`OMP_WAIT_POLICY=PASSIVE`,
 * `GOMP_SPINCOUNT=3000`): libgomp's default spins at every barrier for much longer, which collapses
 * when other processes share the cores. On the 2-core dev machine at load 7-8, the report CNN's
 * 2-thread SGD step took a median 213-320 ms spinning and 29-99 ms waiting passively (1 thread:
 * 40-53 ms).
 */
import { createRequire } from 'node:module';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** oneDNN's version and what it runs on, as the addon reports it. */
export interface NativeVersion {
  major: number;
  minor: number;
  patch: number;
  hash: string;
  /** The instruction set oneDNN dispatches to on this CPU, e.g. 'avx512_core'. */
  isa: string;
  /** oneDNN's threading runtime ('OpenMP' for Debian's build). */
  runtime: string;
}

/**
 * The addon's functions (native/src/addon.cc). `heap` is a Uint8Array over the wasm memory; tensors
 * are byte offsets into it; -1 stands for an absent optional tensor; flags are 0 or 1. Geometry:
 * NHWC data, HWIO filters, tfjs's dilations (1 = none), explicit pads (bottom/right may be negative
 * down to 1 - stride).
 */
export interface NativeAddon {
  version(): NativeVersion;
  /** Sets the OpenMP thread count of the calling thread (the one that runs kernels). */
  setThreads(threads: number): void;
  threads(): number;
  conv2d(heap: Uint8Array, x: number, filter: number, bias: number, y: number, ...geometryReluLayout: number[]): void;
  conv2dBackpropInput(heap: Uint8Array, dy: number, filter: number, dx: number, ...geometryLayout: number[]): void;
  conv2dBackpropFilter(heap: Uint8Array, x: number, dy: number, dw: number, dbias: number, ...geometryLayout: number[]): void;
  /** oneDNN's name of the implementation it picks for kind 0 (forward), 1 (backward data), 2 (backward weights). */
  convImplementation(kind: number, ...geometryLayout: number[]): string;
  matMul(
    heap: Uint8Array,
    a: number,
    b: number,
    c: number,
    bias: number,
    biasMode: number,
    relu: number,
    m: number,
    k: number,
    n: number,
    batch: number,
    transposeA: number,
    transposeB: number,
    aShared: number,
    bShared: number,
  ): void;
  maxPool(heap: Uint8Array, x: number, y: number, ...geometry: number[]): void;
  maxPoolGrad(heap: Uint8Array, x: number, dy: number, dx: number, ...geometry: number[]): void;
  relu(heap: Uint8Array, x: number, y: number, n: number): void;
  step(heap: Uint8Array, x: number, y: number, n: number, alpha: number): void;
  reluGrad(heap: Uint8Array, dy: number, y: number, out: number, n: number): void;
  /** op: 0 add, 1 sub, 2 mul, 3 div; b is [cols] when rowBroadcast (b op a when swapped), else [rows, cols] like a. */
  binary(
    heap: Uint8Array,
    op: number,
    a: number,
    b: number,
    y: number,
    rows: number,
    cols: number,
    rowBroadcast: number,
    swapped: number,
  ): void;
  /** y[c] = sum over r of x[r, c]. */
  columnSums(heap: Uint8Array, x: number, y: number, rows: number, cols: number): void;
  /** Convolution primitives held in the addon's cache. */
  cachedPrimitives(): number;
  clearCache(): void;
}

/** Whether the addon can be used, and if not, why. */
export type NativeStatus =
  { available: true; addon: NativeAddon; path: string; version: NativeVersion } | { available: false; reason: string };

/** The file name node-gyp gives the addon (the `target_name` of native/binding.gyp). */
export const NATIVE_ADDON_FILE = 'flatminima_native.node';

/** The environment variable that turns the addon off ('0') or leaves it on ('1', the default). */
export const NATIVE_ENV = 'FLATMINIMA_NATIVE';

/** The addon's build directory, from this module in src/backend (tsx) or dist/src/backend (built). */
export function nativeBuildDirs(): string[] {
  return ['../../native/build', '../../../native/build'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
}

/** Options of {@link findNativeAddon}. */
export interface FindNativeOptions {
  /** Build directories to look in (default {@link nativeBuildDirs}); the addon is `<dir>/Release/flatminima_native.node`. */
  buildDirs?: string[];
  /** The environment (default process.env), for FLATMINIMA_NATIVE. */
  env?: Record<string, string | undefined>;
}

/**
 * Whether `FLATMINIMA_NATIVE` turns the addon off.
 * @throws RangeError for a value other than '0', '1' or unset.
 */
export function nativeDisabled(env: Record<string, string | undefined> = process.env): boolean {
  const v = env[NATIVE_ENV];
  if (v === undefined || v === '' || v === '1') return false;
  if (v === '0') return true;
  throw new RangeError(`${NATIVE_ENV} must be '0' (native kernels off) or '1' (on, the default), got ${JSON.stringify(v)}`);
}

/**
 * Why the addon was not built, from the note native/build.mjs leaves in the build directory
 * (`status.json`), or a generic reason where there is none.
 */
function notBuiltReason(dirs: string[]): string {
  for (const dir of dirs) {
    const file = `${dir}/status.json`;
    if (!existsSync(file)) continue;
    try {
      const note = JSON.parse(readFileSync(file, 'utf8')) as { built?: unknown; reason?: unknown };
      if (note.built === false && typeof note.reason === 'string') return `not built (${note.reason})`;
    } catch {
      // an unreadable note says nothing; fall through
    }
  }
  return 'not built (run `npx flatminima build-native`)';
}

/** The functions of {@link NativeAddon}. */
export const NATIVE_ADDON_FUNCTIONS: readonly (keyof NativeAddon)[] = [
  'version',
  'setThreads',
  'threads',
  'conv2d',
  'conv2dBackpropInput',
  'conv2dBackpropFilter',
  'convImplementation',
  'matMul',
  'maxPool',
  'maxPoolGrad',
  'relu',
  'step',
  'reluGrad',
  'binary',
  'columnSums',
  'cachedPrimitives',
  'clearCache',
];

/** Checks that a loaded module has every function of {@link NativeAddon}. */
function asAddon(mod: unknown, path: string): NativeAddon {
  const m = mod as Record<string, unknown> | null;
  const missing = NATIVE_ADDON_FUNCTIONS.filter((n) => typeof m?.[n] !== 'function');
  if (missing.length > 0)
    throw new Error(`${path} is not this version's addon (missing ${missing.join(', ')}); rebuild it with \`npx flatminima build-native\``);
  return m as unknown as NativeAddon;
}

/**
 * Looks for the built addon and loads it. Never throws for an absent or broken addon: the status
 * says why it is unavailable (`not built (no libdnnl found)`, `disabled (FLATMINIMA_NATIVE=0)`,
 * `failed to load (...)`).
 * @throws RangeError for a bad FLATMINIMA_NATIVE value.
 */
export function findNativeAddon(opts: FindNativeOptions = {}): NativeStatus {
  if (nativeDisabled(opts.env ?? process.env)) return { available: false, reason: `disabled (${NATIVE_ENV}=0)` };
  const dirs = opts.buildDirs ?? nativeBuildDirs();
  const path = dirs.map((d) => `${d}/Release/${NATIVE_ADDON_FILE}`).find((p) => existsSync(p));
  if (path == null) return { available: false, reason: notBuiltReason(dirs) };
  try {
    const addon = asAddon(loadWithWaitPolicy(path), path);
    return { available: true, addon, path, version: addon.version() };
  } catch (e) {
    const msg = e instanceof Error ? e.message.split('\n')[0]! : String(e);
    return { available: false, reason: `failed to load (${msg})` };
  }
}

/** The OpenMP wait policy the addon's threads get when the environment sets none. */
export const DEFAULT_OMP_WAIT_POLICY = 'PASSIVE';

/**
 * libgomp's GOMP_SPINCOUNT (spin iterations before a waiting thread sleeps) that goes with the
 * default policy when the environment sets neither variable: a few microseconds of spinning, enough
 * to catch the next parallel region of a kernel, then sleep. On a 2-core Xeon, the CNN's 2-thread
 * SGD step measured 10.6 ms against 12.1 ms waiting passively from the start, and 25.0 ms against
 * 23.7 ms with two such processes sharing the cores (where spinning without a limit took 49 ms).
 */
export const DEFAULT_GOMP_SPINCOUNT = '3000';

/**
 * Loads the addon with OMP_WAIT_POLICY (and GOMP_SPINCOUNT) set for libgomp, which reads them once,
 * when it is loaded along with the addon; only when the environment sets neither, since a user's
 * choice of either stands. They are removed again afterwards so that child processes (e.g. the
 * bench's PyTorch baseline) see the environment as it was.
 */
function loadWithWaitPolicy(path: string): unknown {
  const set = process.env.OMP_WAIT_POLICY === undefined && process.env.GOMP_SPINCOUNT === undefined;
  if (set) {
    process.env.OMP_WAIT_POLICY = DEFAULT_OMP_WAIT_POLICY;
    process.env.GOMP_SPINCOUNT = DEFAULT_GOMP_SPINCOUNT;
  }
  try {
    return createRequire(import.meta.url)(path);
  } finally {
    if (set) {
      delete process.env.OMP_WAIT_POLICY;
      delete process.env.GOMP_SPINCOUNT;
    }
  }
}

let cached: NativeStatus | null = null;

/** {@link findNativeAddon} with the default locations, loaded once per process. */
export function nativeAddon(): NativeStatus {
  cached ??= findNativeAddon();
  return cached;
}

/**
 * `2.6.3 avx512_core`: the loaded addon's oneDNN version and the instruction set it dispatches to
 * (both change float rounding), for run records.
 * @throws Error when the addon is not available.
 */
export function nativeVersionTag(): string {
  const status = nativeAddon();
  if (!status.available) throw new Error(`native kernels ${status.reason}`);
  const v = status.version;
  return `${v.major}.${v.minor}.${v.patch} ${v.isa}`;
}

/** What to do about an unavailable addon, for messages: turn it back on, or build it. */
export function nativeRemedy(status: NativeStatus): string {
  if (status.available) return '';
  return status.reason.startsWith('disabled')
    ? `unset ${NATIVE_ENV} (or set it to 1)`
    : 'build them with `npx flatminima build-native` (needs oneDNN, Debian libdnnl-dev, and g++)';
}

/** `oneDNN 2.6.3` */
export function oneDnnVersion(v: NativeVersion): string {
  return `oneDNN ${v.major}.${v.minor}.${v.patch}`;
}

/**
 * The native part of the backend line: `native: oneDNN 2.6.3 (avx512_core), 2 threads` when in
 * use with `threads` threads, else `native: <why not>`.
 */
export function describeNative(status: NativeStatus, threads: number | null): string {
  if (!status.available) return `native: ${status.reason}`;
  const t = threads == null ? '' : `, ${threads} thread${threads === 1 ? '' : 's'}`;
  return `native: ${oneDnnVersion(status.version)} (${status.version.isa})${t}`;
}
