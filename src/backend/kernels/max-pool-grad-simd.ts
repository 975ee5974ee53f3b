/**
 * A small WebAssembly SIMD routine for MaxPoolGrad that works directly on the wasm backend's
 * memory (imported), four channels at a time. It is assembled here from opcodes because it is
 * ~300 bytes: a wat toolchain dependency or a checked-in binary would be heavier to keep honest.
 * Semantics equal the `cpu` backend's: each output's gradient goes to the FIRST maximum of its
 * window in row-major order (strict `>`, so a window of NaN / -inf passes nothing on).
 *
 * Exported function (all i32; pointers are byte offsets, dx must be zeroed by the caller):
 *   maxPoolGrad(x, dy, dx, n, h, w, c, oh, ow, fh, fw, sh, sw, top, left), requires c % 4 == 0.
 */

/** The compiled routine for one wasm memory. */
export type MaxPoolGradFn = (
  x: number, dy: number, dx: number, n: number, h: number, w: number, c: number,
  oh: number, ow: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number,
) => void;

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(v: number): number[] {
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

type Code = number[];
const get = (i: number): Code => [0x20, ...uleb(i)];
const set = (i: number): Code => [0x21, ...uleb(i)];
const i32c = (v: number): Code => [0x41, ...sleb(v)];
const ADD = 0x6a, SUB = 0x6b, MUL = 0x6c, LT_S = 0x48, GT_S = 0x4a, GE_S = 0x4e, SELECT = 0x1b;
const simd = (op: number, ...imm: number[]): Code => [0xfd, ...uleb(op), ...imm];
const V128_LOAD = (): Code => simd(0x00, 0x02, 0x00);
const F32X4_GT = 0x44, BITSELECT = 0x52, I32X4_SPLAT = 0x11, I32X4_ADD = 0xae;
const I32X4_EXTRACT = 0x1b, F32X4_EXTRACT = 0x1f;
function v128const(bytes: number[]): Code {
  return simd(0x0c, ...bytes);
}
function f32x4(v: number): number[] {
  const b = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return Array.from(b);
}
function i32x4(a: number, b: number, c: number, d: number): number[] {
  return Array.from(new Uint8Array(new Int32Array([a, b, c, d]).buffer));
}

/** `for (v = start; v < end; v += step) body` with `start`/`end` as value-producing code. */
function forLoop(v: number, start: Code, end: Code, step: number, body: Code): Code {
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
const max = (a: Code, b: Code): Code => [...a, ...b, ...a, ...b, GT_S, SELECT];
const min = (a: Code, b: Code): Code => [...a, ...b, ...a, ...b, LT_S, SELECT];

// Parameters 0..14 as in the module comment; then locals.
const [X, DY, DX, N, H, W, C, OH, OW, FH, FW, SH, SW, TOP, LEFT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const [B, YR, YC, RS, RE, CS, CE, D, R, COL, OFF, DYP, IDX, T] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28];
const [MAXV, MAXI, G, MASK] = [29, 30, 31, 32];

function body(): Code {
  const lane = (l: number): Code => [
    ...get(MAXI), ...simd(I32X4_EXTRACT, l), ...set(IDX),
    ...get(IDX), ...i32c(0), GE_S,
    0x04, 0x40, // if
    ...get(DX), ...get(IDX), ...i32c(4), MUL, ADD, // address for the store
    ...get(DX), ...get(IDX), ...i32c(4), MUL, ADD, 0x2a, 0x02, 0x00, // f32.load
    ...get(G), ...simd(F32X4_EXTRACT, l),
    0x92, // f32.add
    0x38, 0x02, 0x00, // f32.store
    0x0b,
  ];
  const inner: Code = [
    // off = ((b*h + r)*w + col)*c + d
    ...get(B), ...get(H), MUL, ...get(R), ADD, ...get(W), MUL, ...get(COL), ADD, ...get(C), MUL, ...get(D), ADD, ...set(OFF),
    ...get(X), ...get(OFF), ...i32c(4), MUL, ADD, ...V128_LOAD(), ...set(G),
    ...get(G), ...get(MAXV), ...simd(F32X4_GT), ...set(MASK),
    ...get(G), ...get(MAXV), ...get(MASK), ...simd(BITSELECT), ...set(MAXV),
    ...get(OFF), ...simd(I32X4_SPLAT), ...v128const(i32x4(0, 1, 2, 3)), ...simd(I32X4_ADD),
    ...get(MAXI), ...get(MASK), ...simd(BITSELECT), ...set(MAXI),
  ];
  const perChannelGroup: Code = [
    ...v128const(f32x4(-Infinity)), ...set(MAXV),
    ...v128const(i32x4(-1, -1, -1, -1)), ...set(MAXI),
    ...forLoop(R, get(RS), get(RE), 1, forLoop(COL, get(CS), get(CE), 1, inner)),
    ...get(DYP), ...get(D), ...i32c(4), MUL, ADD, ...V128_LOAD(), ...set(G),
    ...lane(0), ...lane(1), ...lane(2), ...lane(3),
  ];
  const perOutputCol: Code = [
    ...get(YC), ...get(SW), MUL, ...get(LEFT), SUB, ...set(T),
    ...max(get(T), i32c(0)), ...set(CS),
    ...min([...get(T), ...get(FW), ADD], get(W)), ...set(CE),
    // dyp = dy + ((b*oh + yr)*ow + yc)*c*4
    ...get(DY), ...get(B), ...get(OH), MUL, ...get(YR), ADD, ...get(OW), MUL, ...get(YC), ADD, ...get(C), MUL, ...i32c(4), MUL, ADD, ...set(DYP),
    ...forLoop(D, i32c(0), get(C), 4, perChannelGroup),
  ];
  const perOutputRow: Code = [
    ...get(YR), ...get(SH), MUL, ...get(TOP), SUB, ...set(T),
    ...max(get(T), i32c(0)), ...set(RS),
    ...min([...get(T), ...get(FH), ADD], get(H)), ...set(RE),
    ...forLoop(YC, i32c(0), get(OW), 1, perOutputCol),
  ];
  return forLoop(B, i32c(0), get(N), 1, forLoop(YR, i32c(0), get(OH), 1, perOutputRow));
}

function section(id: number, contents: number[]): number[] {
  return [id, ...uleb(contents.length), ...contents];
}
function name(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function maxPoolGradModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const I32 = 0x7f, V128 = 0x7b;
  const type = section(1, [1, 0x60, ...uleb(15), ...new Array<number>(15).fill(I32), 0]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)];
  const imports = section(2, [1, ...name('env'), ...name('memory'), 0x02, ...limits]);
  const funcs = section(3, [1, 0]);
  const exports = section(7, [1, ...name('maxPoolGrad'), 0x00, 0]);
  const fn = [2, 14, I32, 4, V128, ...body(), 0x0b];
  const code = section(10, [1, ...uleb(fn.length), ...fn]);
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...type, ...imports, ...funcs, ...exports, ...code]);
}

const cache = new WeakMap<WebAssembly.Memory, MaxPoolGradFn | null>();
let lastError: string | null = null;

/** Why the SIMD routine could not be built (null when it could, or was never asked for). */
export function maxPoolGradSimdError(): string | null {
  return lastError;
}

/**
 * The routine bound to `memory`, or null where WebAssembly SIMD is unavailable (the caller then
 * uses its plain JS loop). Compiled once per memory.
 */
export function maxPoolGradFor(memory: WebAssembly.Memory): MaxPoolGradFn | null {
  if (cache.has(memory)) return cache.get(memory)!;
  let fn: MaxPoolGradFn | null = null;
  try {
    const shared = typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
    const bytes = maxPoolGradModuleBytes(shared);
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    fn = instance.exports.maxPoolGrad as MaxPoolGradFn;
    lastError = null;
  } catch (e) {
    fn = null;
    lastError = e instanceof Error ? e.message : String(e);
  }
  cache.set(memory, fn);
  return fn;
}
