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
import {
  ADD, BITSELECT, F32X4_EXTRACT, F32X4_GT, GE_S, I32X4_ADD, I32X4_EXTRACT, I32X4_SPLAT, MUL, SUB,
  f32x4, forLoop, get, i32c, i32x4, max, min, moduleBytes, perMemoryRoutine, set, simd, v128const, V128_LOAD, type Code,
} from './wasm-asm.js';

/** The compiled routine for one wasm memory. */
export type MaxPoolGradFn = (
  x: number, dy: number, dx: number, n: number, h: number, w: number, c: number,
  oh: number, ow: number, fh: number, fw: number, sh: number, sw: number, top: number, left: number,
) => void;

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

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function maxPoolGradModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const I32 = 0x7f, V128 = 0x7b;
  return moduleBytes(shared, 'maxPoolGrad', 15, [[14, I32], [4, V128]], body());
}

const routine = perMemoryRoutine<MaxPoolGradFn>('maxPoolGrad', maxPoolGradModuleBytes);

/** Why the SIMD routine could not be built (null when it could, or was never asked for). */
export function maxPoolGradSimdError(): string | null {
  return routine.lastError();
}

/**
 * The routine bound to `memory`, or null where WebAssembly SIMD is unavailable (the caller then
 * uses its plain JS loop). Compiled once per memory.
 */
export function maxPoolGradFor(memory: WebAssembly.Memory): MaxPoolGradFn | null {
  return routine.forMemory(memory);
}
