/**
 * A tiny WebAssembly assembler for the hand-written SIMD routines (MaxPoolGrad, col2im): opcodes as
 * byte arrays, structured loops and the module sections they need. Kept by hand because the
 * routines are a few hundred bytes: a wat toolchain dependency would be heavier to keep honest.
 */

/** Unsigned LEB128. */
export function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128. */
export function sleb(v: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** A run of instruction bytes. */
export type Code = number[];
/** local.get i */
export const get = (i: number): Code => [0x20, ...uleb(i)];
/** local.set i */
export const set = (i: number): Code => [0x21, ...uleb(i)];
/** i32.const v */
export const i32c = (v: number): Code => [0x41, ...sleb(v)];
/** i32 opcodes and select. */
export const ADD = 0x6a,
  SUB = 0x6b,
  MUL = 0x6c,
  LT_S = 0x48,
  LT_U = 0x49,
  GT_S = 0x4a,
  GE_S = 0x4e,
  AND = 0x71,
  SELECT = 0x1b;
/** A SIMD (0xfd-prefixed) instruction with its immediates. */
export const simd = (op: number, ...imm: number[]): Code => [0xfd, ...uleb(op), ...imm];
/** v128.load with 4-byte alignment. */
export const V128_LOAD = (): Code => simd(0x00, 0x02, 0x00);
/** v128.store with 4-byte alignment. */
export const V128_STORE = (): Code => simd(0x0b, 0x02, 0x00);
/** SIMD opcodes (after the 0xfd prefix). */
export const F32X4_GT = 0x44,
  BITSELECT = 0x52,
  I32X4_SPLAT = 0x11,
  I32X4_ADD = 0xae,
  F32X4_ADD = 0xe4;
/** Lane-extract SIMD opcodes. */
export const I32X4_EXTRACT = 0x1b,
  F32X4_EXTRACT = 0x1f;
/** More f32x4 opcodes (after the 0xfd prefix). */
export const F32X4_SPLAT = 0x13,
  F32X4_EQ = 0x41,
  F32X4_NE = 0x42,
  F32X4_SUB = 0xe5,
  F32X4_MUL = 0xe6,
  F32X4_DIV = 0xe7;
export const F32X4_MIN = 0xe8,
  F32X4_MAX = 0xe9,
  I32X4_EQ = 0x37;
/** Scalar f32 opcodes. */
export const F32_ADD = 0x92,
  F32_SUB = 0x93,
  F32_MUL = 0x94,
  F32_DIV = 0x95,
  F32_MAX = 0x97,
  F32_GT = 0x5e,
  F32_NE = 0x5c;
/** f32.load / f32.store with 4-byte alignment. */
export const F32_LOAD = (): Code => [0x2a, 0x02, 0x00];
export const F32_STORE = (): Code => [0x38, 0x02, 0x00];
/** f32.const v */
export const f32c = (v: number): Code => [0x43, ...Array.from(new Uint8Array(new Float32Array([v]).buffer))];
/** Value types. */
export const I32 = 0x7f,
  F32 = 0x7d,
  V128 = 0x7b;

/** v128.const with 16 literal bytes. */
export function v128const(bytes: number[]): Code {
  return simd(0x0c, ...bytes);
}
/** The bytes of an f32x4 with all lanes `v`. */
export function f32x4(v: number): number[] {
  const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return Array.from(b);
}
/** The bytes of an i32x4. */
export function i32x4(a: number, b: number, c: number, d: number): number[] {
  return Array.from(new Uint8Array(new Int32Array([a, b, c, d]).buffer));
}

/** `for (v = start; v < end; v += step) body` with `start`/`end` as value-producing code. */
export function forLoop(v: number, start: Code, end: Code, step: number, body: Code): Code {
  return [
    ...start,
    ...set(v),
    0x02,
    0x40, // block
    0x03,
    0x40, // loop
    ...get(v),
    ...end,
    GE_S,
    0x0d,
    0x01, // br_if 1 (exit) when v >= end
    ...body,
    ...get(v),
    ...i32c(step),
    ADD,
    ...set(v),
    0x0c,
    0x00, // br 0
    0x0b,
    0x0b,
  ];
}
/** `if (cond) body` (cond leaves an i32). */
export function ifThen(cond: Code, body: Code): Code {
  return [...cond, 0x04, 0x40, ...body, 0x0b];
}
/** The sum of the four lanes of v128 local `v` as an f32, added as (v0 + v1) + (v2 + v3). */
export function horizontalSum(v: number): Code {
  return [
    ...get(v),
    ...simd(F32X4_EXTRACT, 0),
    ...get(v),
    ...simd(F32X4_EXTRACT, 1),
    F32_ADD,
    ...get(v),
    ...simd(F32X4_EXTRACT, 2),
    ...get(v),
    ...simd(F32X4_EXTRACT, 3),
    F32_ADD,
    F32_ADD,
  ];
}
/** Signed max of two value-producing codes. */
export const max = (a: Code, b: Code): Code => [...a, ...b, ...a, ...b, GT_S, SELECT];
/** Signed min of two value-producing codes. */
export const min = (a: Code, b: Code): Code => [...a, ...b, ...a, ...b, LT_S, SELECT];

function section(id: number, contents: number[]): number[] {
  return [id, ...uleb(contents.length), ...contents];
}
function name(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

/** One exported function of a module: its parameter and local types and its body. */
export interface FunctionSpec {
  name: string;
  /** Parameter value types, or a count of i32 parameters. */
  params: number | number[];
  /** Local groups, [count, valtype]. */
  locals: [number, number][];
  body: Code;
}

/**
 * A module exporting `functions` (each returning nothing), importing `env.memory` (shared with a
 * 4 GiB maximum when `shared`).
 */
export function moduleWithFunctions(shared: boolean, functions: FunctionSpec[]): Uint8Array<ArrayBuffer> {
  const paramTypes = (p: number | number[]): number[] => (typeof p === 'number' ? new Array<number>(p).fill(I32) : p);
  const types = functions.flatMap((f) => {
    const ps = paramTypes(f.params);
    return [0x60, ...uleb(ps.length), ...ps, 0];
  });
  const type = section(1, [...uleb(functions.length), ...types]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, [1, ...name('env'), ...name('memory'), 0x02, ...limits]);
  const funcs = section(3, [...uleb(functions.length), ...functions.flatMap((_, i) => uleb(i))]);
  const exports = section(7, [...uleb(functions.length), ...functions.flatMap((f, i) => [...name(f.name), 0x00, ...uleb(i)])]);
  const bodies = functions.map((f) => {
    const fn = [...uleb(f.locals.length), ...f.locals.flatMap(([n, t]) => [...uleb(n), t]), ...f.body, 0x0b];
    return [...uleb(fn.length), ...fn];
  });
  const code = section(10, [...uleb(functions.length), ...bodies.flat()]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

/**
 * A module with one exported function `exportName(params i32...)` returning nothing, importing
 * `env.memory` (shared with a 4 GiB maximum when `shared`). `locals` are [count, valtype] groups.
 */
export function moduleBytes(
  shared: boolean,
  exportName: string,
  params: number,
  locals: [number, number][],
  body: Code,
): Uint8Array<ArrayBuffer> {
  return moduleWithFunctions(shared, [{ name: exportName, params, locals, body }]);
}

/** Whether `memory` is a shared (threaded-build) memory. */
export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * A module instantiated once per wasm memory from `bytesFor(shared)`; its exports, or null where it
 * cannot be built (no WebAssembly SIMD), with the reason kept for `lastError()`.
 */
export function perMemoryModule<E>(bytesFor: (shared: boolean) => Uint8Array<ArrayBuffer>): {
  forMemory(memory: WebAssembly.Memory): E | null;
  lastError(): string | null;
} {
  const cache = new WeakMap<WebAssembly.Memory, E | null>();
  let lastError: string | null = null;
  return {
    forMemory(memory) {
      if (cache.has(memory)) return cache.get(memory)!;
      let exports: E | null = null;
      try {
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytesFor(isShared(memory))), { env: { memory } });
        exports = instance.exports as unknown as E;
        lastError = null;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
      }
      cache.set(memory, exports);
      return exports;
    },
    lastError: () => lastError,
  };
}

/** {@link perMemoryModule} for a module with one exported function `exportName`. */
export function perMemoryRoutine<F>(
  exportName: string,
  bytesFor: (shared: boolean) => Uint8Array<ArrayBuffer>,
): {
  forMemory(memory: WebAssembly.Memory): F | null;
  lastError(): string | null;
} {
  const module = perMemoryModule<Record<string, F>>(bytesFor);
  return {
    forMemory: (memory) => module.forMemory(memory)?.[exportName] ?? null,
    lastError: () => module.lastError(),
  };
}
