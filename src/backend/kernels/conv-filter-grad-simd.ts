/**
 * The weight gradient of a convolution with a small patch (kh*kw*Ci, e.g. a first layer on
 * grey-scale images) as one WebAssembly SIMD routine that reads the patches straight from the
 * (pre-padded) input, instead of im2col through a one-hot convolution and a transposed product
 * whose tall operand XNNPACK repacks on every call (~4.7 ms for the report CNN's conv1 on one
 * thread; the product itself is only 25 MFLOP). Assembled with wasm-asm.ts.
 *
 * dW[k, o] = sum over (b, oy, ox) of xp[b, oy*sh + i_k, ox*sw + j_k, c_k] * dy[b, oy, ox, o], where
 * k = (i_k*kw + j_k)*Ci + c_k and xp is x zero-padded so that every patch lies inside it.
 *
 * Exported function (all i32; pointers are byte offsets):
 *   filterGrad(xp, dy, dw, offs, n, oh, ow, hp, wp, ci, sh, sw, k, co)
 *   offs: k4 = k rounded up to a multiple of 4 i32 byte offsets of patch element k inside a window
 *   (entries past k may be any in-bounds offset: their sums are dropped); requires co % 4 == 0.
 * The routine walks tiles of 4 patch elements x 8 (or, for the last block, 4) output channels,
 * keeping the tile's sums in registers over all positions.
 */
import {
  ADD,
  F32X4_ADD,
  F32X4_MUL,
  F32X4_SPLAT,
  F32_LOAD,
  I32,
  LT_S,
  MUL,
  V128,
  V128_STORE,
  f32x4,
  forLoop,
  get,
  i32c,
  ifThen,
  moduleWithFunctions,
  perMemoryModule,
  set,
  simd,
  v128const,
  type Code,
} from './wasm-asm.js';

/** The compiled routine for one wasm memory. */
export type FilterGradFn = (
  xp: number,
  dy: number,
  dw: number,
  offs: number,
  n: number,
  oh: number,
  ow: number,
  hp: number,
  wp: number,
  ci: number,
  sh: number,
  sw: number,
  k: number,
  co: number,
) => void;

const [XP, DY, DW, OFFS, N, OH, OW, HP, WP, CI, SH, SW, K, CO] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
// i32 locals
const [K0, O0, B, OY, OX, XROW, DYROW, XO, DYP, OV, OFF0, OFF1, OFF2, OFF3, XSTEP, DYSTEP, T] = [
  14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30,
];
const I32_LOCALS = 17;
// v128 locals: 8 sums (4 patch elements x 2 channel vectors), 2 dy vectors, 1 splat
const ACC = [31, 32, 33, 34, 35, 36, 37, 38];
const [D0, D1, V] = [39, 40, 41];
const V128_LOCALS = 11;
const OFFS_LOCALS = [OFF0, OFF1, OFF2, OFF3];

/** The tile loop for `vectors` (1 or 2) channel vectors per tile. */
function tile(vectors: 1 | 2): Code {
  const perPosition: Code = [
    ...get(XROW),
    ...get(OX),
    ...get(XSTEP),
    MUL,
    ADD,
    ...set(XO),
    ...get(DYROW),
    ...get(OX),
    ...get(DYSTEP),
    MUL,
    ADD,
    ...set(DYP),
    ...get(DYP),
    ...simd(0x00, 0x02, 0x00),
    ...set(D0),
    ...(vectors === 2 ? [...get(DYP), ...simd(0x00, 0x02, 0x10), ...set(D1)] : []),
    ...[0, 1, 2, 3].flatMap((t) => [
      ...get(XO),
      ...get(OFFS_LOCALS[t]!),
      ADD,
      ...F32_LOAD(),
      ...simd(F32X4_SPLAT),
      ...set(V),
      ...get(ACC[2 * t]!),
      ...get(V),
      ...get(D0),
      ...simd(F32X4_MUL),
      ...simd(F32X4_ADD),
      ...set(ACC[2 * t]!),
      ...(vectors === 2
        ? [...get(ACC[2 * t + 1]!), ...get(V), ...get(D1), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(ACC[2 * t + 1]!)]
        : []),
    ]),
  ];
  const store: Code = [0, 1, 2, 3].flatMap((t) =>
    ifThen(
      [...get(K0), ...i32c(t), ADD, ...get(K), LT_S],
      [
        // dw + ((k0 + t)*co + o0)*4
        ...get(DW),
        ...get(K0),
        ...i32c(t),
        ADD,
        ...get(CO),
        MUL,
        ...get(O0),
        ADD,
        ...i32c(4),
        MUL,
        ADD,
        ...set(T),
        ...get(T),
        ...get(ACC[2 * t]!),
        ...V128_STORE(),
        ...(vectors === 2 ? [...get(T), ...get(ACC[2 * t + 1]!), ...simd(0x0b, 0x02, 0x10)] : []),
      ],
    ),
  );
  return [
    ...ACC.flatMap((a) => [...v128const(f32x4(0)), ...set(a)]),
    ...forLoop(
      B,
      i32c(0),
      get(N),
      1,
      forLoop(OY, i32c(0), get(OH), 1, [
        // xrow = xp + ((b*hp + oy*sh)*wp)*ci*4;  dyrow = dy + ((b*oh + oy)*ow*co + o0)*4
        ...get(XP),
        ...get(B),
        ...get(HP),
        MUL,
        ...get(OY),
        ...get(SH),
        MUL,
        ADD,
        ...get(WP),
        MUL,
        ...get(CI),
        MUL,
        ...i32c(4),
        MUL,
        ADD,
        ...set(XROW),
        ...get(DY),
        ...get(B),
        ...get(OH),
        MUL,
        ...get(OY),
        ADD,
        ...get(OW),
        MUL,
        ...get(CO),
        MUL,
        ...get(O0),
        ADD,
        ...i32c(4),
        MUL,
        ADD,
        ...set(DYROW),
        ...forLoop(OX, i32c(0), get(OW), 1, perPosition),
      ]),
    ),
    ...store,
  ];
}

function body(): Code {
  const loadOffsets: Code = [0, 1, 2, 3].flatMap((t) => [
    ...get(OFFS),
    ...get(K0),
    ...i32c(t),
    ADD,
    ...i32c(4),
    MUL,
    ADD,
    0x28,
    0x02,
    0x00 /* i32.load */,
    ...set(OFFS_LOCALS[t]!),
  ]);
  return [
    ...get(SW),
    ...get(CI),
    MUL,
    ...i32c(4),
    MUL,
    ...set(XSTEP),
    ...get(CO),
    ...i32c(4),
    MUL,
    ...set(DYSTEP),
    ...forLoop(K0, i32c(0), get(K), 4, [
      ...loadOffsets,
      // Pairs of channel vectors, then a last single vector when co % 8 == 4.
      ...get(CO),
      ...i32c(-8),
      0x71 /* and */,
      ...set(OV),
      ...forLoop(O0, i32c(0), get(OV), 8, tile(2)),
      ...ifThen([...get(OV), ...get(CO), LT_S], [...get(OV), ...set(O0), ...tile(1)]),
    ]),
  ];
}

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function filterGradModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  return moduleWithFunctions(shared, [
    {
      name: 'filterGrad',
      params: 14,
      locals: [
        [I32_LOCALS, I32],
        [V128_LOCALS, V128],
      ],
      body: body(),
    },
  ]);
}

const routines = perMemoryModule<{ filterGrad: FilterGradFn }>(filterGradModuleBytes);

/** The routine bound to `memory`, or null where WebAssembly SIMD is unavailable. */
export function filterGradFor(memory: WebAssembly.Memory): FilterGradFn | null {
  return routines.forMemory(memory)?.filterGrad ?? null;
}

/** Why the routine could not be built (null when it could, or was never asked for). */
export function filterGradSimdError(): string | null {
  return routines.lastError();
}
