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
export const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, LT_S = 0x48, LT_U = 0x49, GT_S = 0x4a, GE_S = 0x4e, AND = 0x71, SELECT = 0x1b;
/** A SIMD (0xfd-prefixed) instruction with its immediates. */
export const simd = (op: number, ...imm: number[]): Code => [0xfd, ...uleb(op), ...imm];
/** v128.load with 4-byte alignment. */
export const V128_LOAD = (): Code => simd(0x00, 0x02, 0x00);
/** v128.store with 4-byte alignment. */
export const V128_STORE = (): Code => simd(0x0b, 0x02, 0x00);
/** SIMD opcodes (after the 0xfd prefix). */
export const F32X4_GT = 0x44, BITSELECT = 0x52, I32X4_SPLAT = 0x11, I32X4_ADD = 0xae, F32X4_ADD = 0xe4;
/** Lane-extract SIMD opcodes. */
export const I32X4_EXTRACT = 0x1b, F32X4_EXTRACT = 0x1f;

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
    ...start, ...set(v),
    0x02, 0x40, // block
    0x03, 0x40, // loop
    ...get(v), ...end, GE_S, 0x0d, 0x01, // br_if 1 (exit) when v >= end
    ...body,
    ...get(v), ...i32c(step), ADD, ...set(v),
    0x0c, 0x00, // br 0
    0x0b, 0x0b,
  ];
}
/** `if (cond) body` (cond leaves an i32). */
export function ifThen(cond: Code, body: Code): Code {
  return [...cond, 0x04, 0x40, ...body, 0x0b];
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
  const I32 = 0x7f;
  const type = section(1, [1, 0x60, ...uleb(params), ...new Array<number>(params).fill(I32), 0]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, [1, ...name('env'), ...name('memory'), 0x02, ...limits]);
  const funcs = section(3, [1, 0]);
  const exports = section(7, [1, ...name(exportName), 0x00, 0]);
  const fn = [...uleb(locals.length), ...locals.flatMap(([n, t]) => [...uleb(n), t]), ...body, 0x0b];
  const code = section(10, [1, ...uleb(fn.length), ...fn]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

/** Whether `memory` is a shared (threaded-build) memory. */
export function isShared(memory: WebAssembly.Memory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/**
 * A routine compiled once per wasm memory from `bytesFor(shared)`, exporting `exportName`; null
 * where it cannot be built (no WebAssembly SIMD), with the reason kept for `lastError()`.
 */
export function perMemoryRoutine<F>(exportName: string, bytesFor: (shared: boolean) => Uint8Array<ArrayBuffer>): {
  forMemory(memory: WebAssembly.Memory): F | null;
  lastError(): string | null;
} {
  const cache = new WeakMap<WebAssembly.Memory, F | null>();
  let lastError: string | null = null;
  return {
    forMemory(memory) {
      if (cache.has(memory)) return cache.get(memory)!;
      let fn: F | null = null;
      try {
        const instance = new WebAssembly.Instance(new WebAssembly.Module(bytesFor(isShared(memory))), { env: { memory } });
        fn = instance.exports[exportName] as F;
        lastError = null;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
      }
      cache.set(memory, fn);
      return fn;
    },
    lastError: () => lastError,
  };
}
