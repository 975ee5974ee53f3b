/**
 * A small WebAssembly SIMD routine for MaxPoolGrad that works directly on the wasm backend's
 * memory (imported), four channels at a time. It is assembled here from opcodes because it is
 * ~300 bytes: a wat toolchain dependency or a checked-in binary would be heavier to keep honest.
 * Semantics equal the `cpu` backend's: each output's gradient goes to the FIRST maximum of its
 * window in row-major order (strict `>`, so a window of NaN / -inf passes nothing on).
 *
 * Exported functions (all i32; pointers are byte offsets), both requiring c % 4 == 0:
 *   maxPoolGrad(x, dy, dx, n, h, w, c, oh, ow, fh, fw, sh, sw, top, left): any windows, scatter-adds
 *     into dx, which the caller zeroes;
 *   maxPoolGradDisjoint(same): windows that do not overlap (stride >= window); writes dx at every
 *     position inside a window (dy or 0) and leaves the positions outside all windows alone;
 *   maxPoolGrad2x2(same): maxPoolGradDisjoint for 2x2 windows, stride 2, no padding, all windows
 *     inside the input (the report CNN's pools), unrolled.
 */
import {
  ADD,
  BITSELECT,
  F32X4_EXTRACT,
  F32X4_GT,
  GE_S,
  I32,
  I32X4_ADD,
  I32X4_EQ,
  I32X4_EXTRACT,
  I32X4_SPLAT,
  MUL,
  SUB,
  V128,
  f32x4,
  forLoop,
  get,
  i32c,
  i32x4,
  max,
  min,
  moduleWithFunctions,
  perMemoryModule,
  set,
  simd,
  v128const,
  V128_LOAD,
  V128_STORE,
  type Code,
} from './wasm-asm.js';

/** The compiled routine for one wasm memory. */
export type MaxPoolGradFn = (
  x: number,
  dy: number,
  dx: number,
  n: number,
  h: number,
  w: number,
  c: number,
  oh: number,
  ow: number,
  fh: number,
  fw: number,
  sh: number,
  sw: number,
  top: number,
  left: number,
) => void;

// Parameters 0..14 as in the module comment; then locals.
const [X, DY, DX, N, H, W, C, OH, OW, FH, FW, SH, SW, TOP, LEFT] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
const [B, YR, YC, RS, RE, CS, CE, D, R, COL, OFF, DYP, IDX, T] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28];
const [MAXV, MAXI, G, MASK] = [29, 30, 31, 32];
// Extra i32 locals of the disjoint routine.
const [ROWPTR, BASE, RSB, CSB, DELTA] = [33, 34, 35, 36, 37];

/**
 * The loops over images B and output positions (YR, YC), clipping each window to the input: rows
 * RS..RE, columns CS..CE; DYP points at dy[b, yr, yc, 0]. `perOutput` runs at every position.
 */
function outputLoops(perOutput: Code): Code {
  const perOutputCol: Code = [
    ...get(YC),
    ...get(SW),
    MUL,
    ...get(LEFT),
    SUB,
    ...set(T),
    ...max(get(T), i32c(0)),
    ...set(CS),
    ...min([...get(T), ...get(FW), ADD], get(W)),
    ...set(CE),
    // dyp = dy + ((b*oh + yr)*ow + yc)*c*4
    ...get(DY),
    ...get(B),
    ...get(OH),
    MUL,
    ...get(YR),
    ADD,
    ...get(OW),
    MUL,
    ...get(YC),
    ADD,
    ...get(C),
    MUL,
    ...i32c(4),
    MUL,
    ADD,
    ...set(DYP),
    ...perOutput,
  ];
  const perOutputRow: Code = [
    ...get(YR),
    ...get(SH),
    MUL,
    ...get(TOP),
    SUB,
    ...set(T),
    ...max(get(T), i32c(0)),
    ...set(RS),
    ...min([...get(T), ...get(FH), ADD], get(H)),
    ...set(RE),
    ...forLoop(YC, i32c(0), get(OW), 1, perOutputCol),
  ];
  return forLoop(B, i32c(0), get(N), 1, forLoop(YR, i32c(0), get(OH), 1, perOutputRow));
}

function body(): Code {
  const lane = (l: number): Code => [
    ...get(MAXI),
    ...simd(I32X4_EXTRACT, l),
    ...set(IDX),
    ...get(IDX),
    ...i32c(0),
    GE_S,
    0x04,
    0x40, // if
    ...get(DX),
    ...get(IDX),
    ...i32c(4),
    MUL,
    ADD, // address for the store
    ...get(DX),
    ...get(IDX),
    ...i32c(4),
    MUL,
    ADD,
    0x2a,
    0x02,
    0x00, // f32.load
    ...get(G),
    ...simd(F32X4_EXTRACT, l),
    0x92, // f32.add
    0x38,
    0x02,
    0x00, // f32.store
    0x0b,
  ];
  const inner: Code = [
    // off = ((b*h + r)*w + col)*c + d
    ...get(B),
    ...get(H),
    MUL,
    ...get(R),
    ADD,
    ...get(W),
    MUL,
    ...get(COL),
    ADD,
    ...get(C),
    MUL,
    ...get(D),
    ADD,
    ...set(OFF),
    ...get(X),
    ...get(OFF),
    ...i32c(4),
    MUL,
    ADD,
    ...V128_LOAD(),
    ...set(G),
    ...get(G),
    ...get(MAXV),
    ...simd(F32X4_GT),
    ...set(MASK),
    ...get(G),
    ...get(MAXV),
    ...get(MASK),
    ...simd(BITSELECT),
    ...set(MAXV),
    ...get(OFF),
    ...simd(I32X4_SPLAT),
    ...v128const(i32x4(0, 1, 2, 3)),
    ...simd(I32X4_ADD),
    ...get(MAXI),
    ...get(MASK),
    ...simd(BITSELECT),
    ...set(MAXI),
  ];
  const perChannelGroup: Code = [
    ...v128const(f32x4(-Infinity)),
    ...set(MAXV),
    ...v128const(i32x4(-1, -1, -1, -1)),
    ...set(MAXI),
    ...forLoop(R, get(RS), get(RE), 1, forLoop(COL, get(CS), get(CE), 1, inner)),
    ...get(DYP),
    ...get(D),
    ...i32c(4),
    MUL,
    ADD,
    ...V128_LOAD(),
    ...set(G),
    ...lane(0),
    ...lane(1),
    ...lane(2),
    ...lane(3),
  ];
  return outputLoops(forLoop(D, i32c(0), get(C), 4, perChannelGroup));
}

/**
 * For windows that do not overlap (stride >= window): each window's positions are written once,
 * dx = dy where the position is the window's first maximum, else 0, with no scatter and no zeroing
 * (the caller zeroes dx only where windows leave input positions uncovered).
 */
function disjointBody(): Code {
  // Locals as in body(), plus running byte pointers: IDX counts window positions, MAXI holds the
  // first maximum's position, OFF walks x, DELTA = dx - x turns it into the matching dx address.
  const step: Code = [...get(OFF), ...get(CSB), ADD, ...set(OFF), ...get(IDX), ...i32c(1), ADD, ...set(IDX)];
  const findMax: Code = [
    ...get(OFF),
    ...V128_LOAD(),
    ...set(G),
    ...get(G),
    ...get(MAXV),
    ...simd(F32X4_GT),
    ...set(MASK),
    ...get(G),
    ...get(MAXV),
    ...get(MASK),
    ...simd(BITSELECT),
    ...set(MAXV),
    ...get(IDX),
    ...simd(I32X4_SPLAT),
    ...get(MAXI),
    ...get(MASK),
    ...simd(BITSELECT),
    ...set(MAXI),
    ...step,
  ];
  const write: Code = [
    ...get(OFF),
    ...get(DELTA),
    ADD,
    ...get(G),
    ...v128const(f32x4(0)),
    ...get(IDX),
    ...simd(I32X4_SPLAT),
    ...get(MAXI),
    ...simd(I32X4_EQ),
    ...simd(BITSELECT),
    ...V128_STORE(),
    ...step,
  ];
  /** Visits the window's positions of channel group D in row-major order. */
  const window = (visit: Code): Code => [
    ...i32c(0),
    ...set(IDX),
    ...get(BASE),
    ...get(D),
    ...i32c(4),
    MUL,
    ADD,
    ...set(ROWPTR),
    ...forLoop(R, get(RS), get(RE), 1, [
      ...get(ROWPTR),
      ...set(OFF),
      ...forLoop(COL, get(CS), get(CE), 1, visit),
      ...get(ROWPTR),
      ...get(RSB),
      ADD,
      ...set(ROWPTR),
    ]),
  ];
  const perChannelGroup: Code = [
    ...v128const(f32x4(-Infinity)),
    ...set(MAXV),
    ...v128const(i32x4(-1, -1, -1, -1)),
    ...set(MAXI),
    ...window(findMax),
    ...get(DYP),
    ...get(D),
    ...i32c(4),
    MUL,
    ADD,
    ...V128_LOAD(),
    ...set(G),
    ...window(write),
  ];
  return [
    ...get(C),
    ...i32c(4),
    MUL,
    ...set(CSB),
    ...get(W),
    ...get(CSB),
    MUL,
    ...set(RSB),
    ...get(DX),
    ...get(X),
    SUB,
    ...set(DELTA),
    ...outputLoops([
      // BASE: the byte address in x of the window's first position (row RS, column CS, channel 0).
      ...get(X),
      ...get(B),
      ...get(H),
      MUL,
      ...get(RS),
      ADD,
      ...get(W),
      MUL,
      ...get(CS),
      ADD,
      ...get(C),
      MUL,
      ...i32c(4),
      MUL,
      ADD,
      ...set(BASE),
      ...forLoop(D, i32c(0), get(C), 4, perChannelGroup),
    ]),
  ];
}

/**
 * 2x2 windows with stride 2, all inside the input (no padding): the disjoint routine unrolled, with
 * the window's four vectors held in registers (about a quarter of its instructions).
 */
function pool2x2Body(): Code {
  // Own locals after the 15 parameters: i32 then v128.
  const [b, yr, yc, d, base, dyp, csb, rsb, delta, p] = [15, 16, 17, 18, 19, 20, 21, 22, 23, 24];
  const [v0, v1, v2, v3, m, k, g, mask] = [25, 26, 27, 28, 29, 30, 31, 32];
  const vs = [v0, v1, v2, v3];
  const addr = (j: number): Code =>
    j === 0
      ? get(p)
      : j === 1
        ? [...get(p), ...get(csb), ADD]
        : j === 2
          ? [...get(p), ...get(rsb), ADD]
          : [...get(p), ...get(rsb), ADD, ...get(csb), ADD];
  const perChannelGroup: Code = [
    ...get(base),
    ...get(d),
    ADD,
    ...set(p),
    ...[0, 1, 2, 3].flatMap((j) => [...addr(j), ...V128_LOAD(), ...set(vs[j]!)]),
    ...v128const(f32x4(-Infinity)),
    ...set(m),
    ...v128const(i32x4(-1, -1, -1, -1)),
    ...set(k),
    // First maximum in row-major order: strict >, so ties keep the earlier position.
    ...[0, 1, 2, 3].flatMap((j) => [
      ...get(vs[j]!),
      ...get(m),
      ...simd(F32X4_GT),
      ...set(mask),
      ...get(vs[j]!),
      ...get(m),
      ...get(mask),
      ...simd(BITSELECT),
      ...set(m),
      ...v128const(i32x4(j, j, j, j)),
      ...get(k),
      ...get(mask),
      ...simd(BITSELECT),
      ...set(k),
    ]),
    ...get(dyp),
    ...get(d),
    ADD,
    ...V128_LOAD(),
    ...set(g),
    ...[0, 1, 2, 3].flatMap((j) => [
      ...addr(j),
      ...get(delta),
      ADD,
      ...get(g),
      ...v128const(f32x4(0)),
      ...v128const(i32x4(j, j, j, j)),
      ...get(k),
      ...simd(I32X4_EQ),
      ...simd(BITSELECT),
      ...V128_STORE(),
    ]),
  ];
  const perOutput: Code = [
    // base = x + ((b*h + 2*yr)*w + 2*yc)*c*4;  dyp = dy + ((b*oh + yr)*ow + yc)*c*4
    ...get(X),
    ...get(b),
    ...get(H),
    MUL,
    ...get(yr),
    ...i32c(2),
    MUL,
    ADD,
    ...get(W),
    MUL,
    ...get(yc),
    ...i32c(2),
    MUL,
    ADD,
    ...get(csb),
    MUL,
    ADD,
    ...set(base),
    ...get(DY),
    ...get(b),
    ...get(OH),
    MUL,
    ...get(yr),
    ADD,
    ...get(OW),
    MUL,
    ...get(yc),
    ADD,
    ...get(csb),
    MUL,
    ADD,
    ...set(dyp),
    ...forLoop(d, i32c(0), get(csb), 16, perChannelGroup),
  ];
  return [
    ...get(C),
    ...i32c(4),
    MUL,
    ...set(csb),
    ...get(W),
    ...get(csb),
    MUL,
    ...set(rsb),
    ...get(DX),
    ...get(X),
    SUB,
    ...set(delta),
    ...forLoop(b, i32c(0), get(N), 1, forLoop(yr, i32c(0), get(OH), 1, forLoop(yc, i32c(0), get(OW), 1, perOutput))),
  ];
}

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function maxPoolGradModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  return moduleWithFunctions(shared, [
    {
      name: 'maxPoolGrad',
      params: 15,
      locals: [
        [14, I32],
        [4, V128],
      ],
      body: body(),
    },
    {
      name: 'maxPoolGradDisjoint',
      params: 15,
      locals: [
        [14, I32],
        [4, V128],
        [5, I32],
      ],
      body: disjointBody(),
    },
    {
      name: 'maxPoolGrad2x2',
      params: 15,
      locals: [
        [10, I32],
        [8, V128],
      ],
      body: pool2x2Body(),
    },
  ]);
}

/** The routines of one wasm memory. */
export interface MaxPoolGradRoutines {
  /** Any windows; dx zeroed by the caller; gradients scattered and added. */
  maxPoolGrad: MaxPoolGradFn;
  /** Windows that do not overlap; writes every position inside a window, leaves the rest. */
  maxPoolGradDisjoint: MaxPoolGradFn;
  /** As maxPoolGradDisjoint for 2x2 windows, stride 2, no padding, every window inside the input. */
  maxPoolGrad2x2: MaxPoolGradFn;
}

const routines = perMemoryModule<MaxPoolGradRoutines>(maxPoolGradModuleBytes);

/** Why the SIMD routine could not be built (null when it could, or was never asked for). */
export function maxPoolGradSimdError(): string | null {
  return routines.lastError();
}

/**
 * The routine bound to `memory`, or null where WebAssembly SIMD is unavailable (the caller then
 * uses its plain JS loop). Compiled once per memory.
 */
export function maxPoolGradFor(memory: WebAssembly.Memory): MaxPoolGradRoutines | null {
  return routines.forMemory(memory);
}
