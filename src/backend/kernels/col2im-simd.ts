/**
 * col2im as a small WebAssembly SIMD routine on the wasm backend's memory (imported), four
 * channels at a time: the scatter-add half of Conv2DBackpropInput computed as GEMM + col2im.
 * A plain JS loop over the heap took ~2.7 ms for the report CNN's conv2 (2.2 M floats), as much as
 * the GEMM saves over the full-convolution formulation; this routine is several times faster.
 *
 * Exported function (all i32; pointers are byte offsets into the memory, dx must be zeroed):
 *   col2im(cols, dx, n, oh, ow, kh, kw, c, h, w, sh, sw, top, left), requires c % 4 == 0:
 *   for every (b, oy, ox, i, j) with r = oy*sh - top + i in [0,h) and q = ox*sw - left + j in [0,w),
 *   dx[b, r, q, :] += cols[b, oy, ox, i, j, :]   (cols is [n, oh, ow, kh, kw, c], dx [n, h, w, c]).
 */
import {
  ADD,
  F32X4_ADD,
  LT_U,
  MUL,
  SUB,
  forLoop,
  get,
  i32c,
  ifThen,
  moduleBytes,
  perMemoryRoutine,
  set,
  simd,
  V128_LOAD,
  V128_STORE,
  type Code,
} from './wasm-asm.js';

/** The compiled routine for one wasm memory. */
export type Col2imFn = (
  cols: number,
  dx: number,
  n: number,
  oh: number,
  ow: number,
  kh: number,
  kw: number,
  c: number,
  h: number,
  w: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
) => void;

// Parameters 0..13 as in the module comment; then i32 locals.
const [COLS, DX, N, OH, OW, KH, KW, C, H, W, SH, SW, TOP, LEFT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
const [B, OY, OX, I, J, R, Q, P, DST, D, CB] = [14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
const LOCALS = 11;

function body(): Code {
  // dx[dst + d] += cols[p + d], 16 bytes at a time.
  const add4: Code = [
    ...get(DST),
    ...get(D),
    ADD,
    ...get(DST),
    ...get(D),
    ADD,
    ...V128_LOAD(),
    ...get(P),
    ...get(D),
    ADD,
    ...V128_LOAD(),
    ...simd(F32X4_ADD),
    ...V128_STORE(),
  ];
  const perJ: Code = [
    // q = ox*sw - left + j; unsigned q < w tests 0 <= q < w.
    ...get(OX),
    ...get(SW),
    MUL,
    ...get(LEFT),
    SUB,
    ...get(J),
    ADD,
    ...set(Q),
    ...ifThen(
      [...get(Q), ...get(W), LT_U],
      [
        // dst = dx + ((b*h + r)*w + q)*cb
        ...get(DX),
        ...get(B),
        ...get(H),
        MUL,
        ...get(R),
        ADD,
        ...get(W),
        MUL,
        ...get(Q),
        ADD,
        ...get(CB),
        MUL,
        ADD,
        ...set(DST),
        ...forLoop(D, i32c(0), get(CB), 16, add4),
      ],
    ),
    ...get(P),
    ...get(CB),
    ADD,
    ...set(P),
  ];
  const perI: Code = [
    ...get(OY),
    ...get(SH),
    MUL,
    ...get(TOP),
    SUB,
    ...get(I),
    ADD,
    ...set(R),
    ...ifThen([...get(R), ...get(H), LT_U], forLoop(J, i32c(0), get(KW), 1, perJ)),
    // p = cols + ((((b*oh + oy)*ow + ox)*kh + i + 1)*kw)*cb: the start of the next i.
    ...get(COLS),
    ...get(B),
    ...get(OH),
    MUL,
    ...get(OY),
    ADD,
    ...get(OW),
    MUL,
    ...get(OX),
    ADD,
    ...get(KH),
    MUL,
    ...get(I),
    ADD,
    ...i32c(1),
    ADD,
    ...get(KW),
    MUL,
    ...get(CB),
    MUL,
    ADD,
    ...set(P),
  ];
  const perOx: Code = forLoop(I, i32c(0), get(KH), 1, perI);
  return [
    ...get(C),
    ...i32c(4),
    MUL,
    ...set(CB),
    ...get(COLS),
    ...set(P),
    ...forLoop(B, i32c(0), get(N), 1, forLoop(OY, i32c(0), get(OH), 1, forLoop(OX, i32c(0), get(OW), 1, perOx))),
  ];
}

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function col2imModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  return moduleBytes(shared, 'col2im', 14, [[LOCALS, 0x7f]], body());
}

const routine = perMemoryRoutine<Col2imFn>('col2im', col2imModuleBytes);

/** Why the SIMD routine could not be built (null when it could, or was never asked for). */
export function col2imSimdError(): string | null {
  return routine.lastError();
}

/**
 * The routine bound to `memory`, or null where WebAssembly SIMD is unavailable (the caller then
 * keeps the full-convolution formulation). Compiled once per memory.
 */
export function col2imFor(memory: WebAssembly.Memory): Col2imFn | null {
  return routine.forMemory(memory);
}
