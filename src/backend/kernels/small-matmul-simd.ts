/**
 * A single-threaded WebAssembly SIMD matmul for small products, working directly on the wasm
 * backend's memory (imported). For the MLP's products (64x32 @ 32x32 and the like) the XNNPACK path
 * costs more in fixed overhead (explicit transposes, operator setup, packing the right operand on
 * every call, waking worker threads in the threaded build) than in arithmetic; this routine reads
 * its operands in place. Assembled with wasm-asm.ts because it is a few hundred bytes.
 *
 * Exported functions (all i32; pointers are byte offsets into the memory):
 *   smm(a, b, c, bias, m, n, k, sAi, sAk, biasMode, relu):
 *     C[i, j] = sum_k A(i, k) * B[k, j]  (+ bias[j] when biasMode == 1, + bias[0] when 2), then
 *     max(., 0) when relu != 0. A(i, k) is a[i*sAi + k*sAk] (sAi = k, sAk = 1 for a row-major [m, k];
 *     sAi = 1, sAk = m for a transposed one, stored [k, m]); B is row-major [k, n]; C is [m, n].
 *     Blocks of 4 rows x 8 columns (accumulators in v128 locals), then 4-column and scalar tails.
 *     Every product is summed (none skipped), so NaN and Infinity propagate like the cpu backend.
 *   smmDot(a, b, c, bias, m, n, k, biasMode, relu): the same C for A row-major [m, k] and B stored
 *     transposed, row-major [n, k]: dot products along k, four lanes at a time (blocks of 2 rows x
 *     4 columns, a horizontal add, then the k % 4 tail in scalar), so no operand is copied.
 *   transpose(src, dst, rows, cols): dst[c*rows + r] = src[r*cols + c] (a row-major copy of a
 *     transposed operand, or a result computed as C^T copied into C).
 */
import {
  ADD,
  F32,
  F32_ADD,
  horizontalSum,
  F32_LOAD,
  F32_MAX,
  F32_MUL,
  F32_STORE,
  F32X4_ADD,
  F32X4_MAX,
  F32X4_MUL,
  F32X4_SPLAT,
  I32,
  LT_S,
  MUL,
  SUB,
  V128,
  f32c,
  uleb,
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

/** The compiled routines for one wasm memory. */
export interface SmallMatMulFns {
  smm(
    a: number,
    b: number,
    c: number,
    bias: number,
    m: number,
    n: number,
    k: number,
    sAi: number,
    sAk: number,
    biasMode: number,
    relu: number,
  ): void;
  smmDot(a: number, b: number, c: number, bias: number, m: number, n: number, k: number, biasMode: number, relu: number): void;
  transpose(src: number, dst: number, rows: number, cols: number): void;
}

/** No bias / a bias per output column ([n]) / one scalar bias. */
export const BIAS_NONE = 0,
  BIAS_PER_COLUMN = 1,
  BIAS_SCALAR = 2;

// smm parameters, then locals: 11 i32, 12 v128, 6 f32.
const [A, B, C, BIAS, M, N, K, SAI, SAK, BMODE, RELU] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
const [I, J, KK, PA, PB, RSA, RS2, RS3, KSA, LDB, PC] = [11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
const V0 = 22; // ACC r,v = V0 + 2r + v (8), then BV0, BV1, S, X
const [BV0, S, X] = [V0 + 8, V0 + 10, V0 + 11];
const F0 = V0 + 12; // SACC r = F0 + r (4), then SB, SX
const [SB, SX] = [F0 + 4, F0 + 5];
const acc = (r: number, v: number): number => V0 + 2 * r + v;

const I32_EQ = 0x46;
/** v128.load / v128.store with 4-byte alignment at a constant byte offset. */
const vload = (offset: number): Code => simd(0x00, 0x02, ...uleb(offset));
const vstore = (offset: number): Code => simd(0x0b, 0x02, ...uleb(offset));
/** f32.load / f32.store with 4-byte alignment at a constant byte offset. */
const fload = (offset: number): Code => [0x2a, 0x02, ...uleb(offset)];
const fstore = (offset: number): Code => [0x38, 0x02, ...uleb(offset)];
/** `cond ? then : otherwise` producing a value of type `type` (a typed if/else). */
const ifElse = (type: number, cond: Code, then: Code, otherwise: Code): Code => [...cond, 0x04, type, ...then, 0x05, ...otherwise, 0x0b];
const ZERO4 = (): Code => v128const(new Array<number>(16).fill(0));
/** The byte address of A(I + r, k) given PA = address of A(I, k). */
const aRow = (r: number): Code => (r === 0 ? get(PA) : [...get(PA), ...get([RSA, RSA, RS2, RS3][r]!), ADD]);
/** The byte address of C[I + r, J]. */
const cRow = (r: number): Code => (r === 0 ? get(PC) : [...get(PC), ...i32c(r), ...get(LDB), MUL, ADD]);
const startPointers: Code = [
  ...get(A),
  ...get(I),
  ...get(RSA),
  MUL,
  ADD,
  ...set(PA),
  ...get(B),
  ...get(J),
  ...i32c(4),
  MUL,
  ADD,
  ...set(PB),
];
const advancePointers: Code = [...get(PA), ...get(KSA), ADD, ...set(PA), ...get(PB), ...get(LDB), ADD, ...set(PB)];
const outputPointer: Code = [...get(C), ...get(I), ...get(N), MUL, ...get(J), ADD, ...i32c(4), MUL, ADD, ...set(PC)];

/** R rows x 4V columns starting at (I, J), accumulated in v128 locals. */
function vectorBlock(R: number, V: number): Code {
  const init: Code = [];
  for (let r = 0; r < R; r++) for (let v = 0; v < V; v++) init.push(...ZERO4(), ...set(acc(r, v)));
  const step: Code = [];
  for (let v = 0; v < V; v++) step.push(...get(PB), ...vload(16 * v), ...set(BV0 + v));
  for (let r = 0; r < R; r++) {
    step.push(...aRow(r), ...F32_LOAD(), ...simd(F32X4_SPLAT), ...set(S));
    for (let v = 0; v < V; v++) {
      step.push(...get(acc(r, v)), ...get(S), ...get(BV0 + v), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(acc(r, v)));
    }
  }
  step.push(...advancePointers);
  const epilogue: Code = [...outputPointer];
  for (let v = 0; v < V; v++) {
    epilogue.push(
      ...ifElse(
        V128,
        [...get(BMODE), ...i32c(1), I32_EQ],
        [...get(BIAS), ...get(J), ...i32c(4), MUL, ADD, ...vload(16 * v)],
        ifElse(V128, get(BMODE), [...get(BIAS), ...F32_LOAD(), ...simd(F32X4_SPLAT)], ZERO4()),
      ),
      ...set(BV0 + v),
    );
  }
  for (let r = 0; r < R; r++) {
    for (let v = 0; v < V; v++) {
      epilogue.push(
        ...get(acc(r, v)),
        ...get(BV0 + v),
        ...simd(F32X4_ADD),
        ...set(X),
        ...cRow(r),
        ...ifElse(V128, get(RELU), [...get(X), ...ZERO4(), ...simd(F32X4_MAX)], get(X)),
        ...vstore(16 * v),
      );
    }
  }
  return [...init, ...startPointers, ...forLoop(KK, i32c(0), get(K), 1, step), ...epilogue];
}

/** R rows x 1 column at (I, J), accumulated in f32 locals. */
function scalarBlock(R: number): Code {
  const init: Code = [];
  for (let r = 0; r < R; r++) init.push(...f32c(0), ...set(F0 + r));
  const step: Code = [...get(PB), ...F32_LOAD(), ...set(SB)];
  for (let r = 0; r < R; r++) {
    step.push(...get(F0 + r), ...aRow(r), ...F32_LOAD(), ...get(SB), F32_MUL, F32_ADD, ...set(F0 + r));
  }
  step.push(...advancePointers);
  const epilogue: Code = [
    ...outputPointer,
    ...ifElse(
      F32,
      [...get(BMODE), ...i32c(1), I32_EQ],
      [...get(BIAS), ...get(J), ...i32c(4), MUL, ADD, ...F32_LOAD()],
      ifElse(F32, get(BMODE), [...get(BIAS), ...F32_LOAD()], f32c(0)),
    ),
    ...set(SB),
  ];
  for (let r = 0; r < R; r++) {
    epilogue.push(
      ...get(F0 + r),
      ...get(SB),
      F32_ADD,
      ...set(SX),
      ...cRow(r),
      ...ifElse(F32, get(RELU), [...get(SX), ...f32c(0), F32_MAX], get(SX)),
      ...F32_STORE(),
    );
  }
  return [...init, ...startPointers, ...forLoop(KK, i32c(0), get(K), 1, step), ...epilogue];
}

/** All columns of the R rows starting at I: 8-wide blocks, one 4-wide block, scalar columns. */
function rowBlock(R: number): Code {
  return [
    ...forLoop(J, i32c(0), [...get(N), ...i32c(7), SUB], 8, vectorBlock(R, 2)),
    ...ifThen([...get(J), ...get(N), ...i32c(3), SUB, LT_S], [...vectorBlock(R, 1), ...get(J), ...i32c(4), ADD, ...set(J)]),
    ...forLoop(J, get(J), get(N), 1, scalarBlock(R)),
  ];
}

function smmBody(): Code {
  return [
    ...get(SAI),
    ...i32c(4),
    MUL,
    ...set(RSA),
    ...get(RSA),
    ...i32c(2),
    MUL,
    ...set(RS2),
    ...get(RSA),
    ...i32c(3),
    MUL,
    ...set(RS3),
    ...get(SAK),
    ...i32c(4),
    MUL,
    ...set(KSA),
    ...get(N),
    ...i32c(4),
    MUL,
    ...set(LDB),
    // Blocks of 4 rows while I + 4 <= M; the loop leaves I at the first row left over.
    ...forLoop(I, i32c(0), [...get(M), ...i32c(3), SUB], 4, rowBlock(4)),
    ...forLoop(I, get(I), get(M), 1, rowBlock(1)),
  ];
}

/** smmDot: parameters, then locals: 9 i32, 11 v128, 10 f32. */
const D = {
  A: 0,
  B: 1,
  C: 2,
  BIAS: 3,
  M: 4,
  N: 5,
  K: 6,
  BMODE: 7,
  RELU: 8,
  I: 9,
  J: 10,
  KK: 11,
  PA: 12,
  PB: 13,
  RS: 14,
  RS2: 15,
  RS3: 16,
  PC: 17,
  V0: 18,
  AV0: 26,
  BT: 28,
  F0: 29,
  SB: 37,
  SX: 38,
};
const dacc = (r: number, c: number): number => D.V0 + 4 * r + c;
const dsum = (r: number, c: number): number => D.F0 + 4 * r + c;
/** The byte address of row `r` after the one at `p` (rows of k floats: both A and B here). */
const dRow = (p: number, r: number): Code => (r === 0 ? get(p) : [...get(p), ...get([D.RS, D.RS, D.RS2, D.RS3][r]!), ADD]);

/** R rows x CN columns of C at (I, J) from dot products along k. */
function dotBlock(R: number, CN: number): Code {
  const init: Code = [];
  for (let r = 0; r < R; r++) for (let c = 0; c < CN; c++) init.push(...ZERO4(), ...set(dacc(r, c)));
  const pointers: Code = [
    ...get(D.A),
    ...get(D.I),
    ...get(D.RS),
    MUL,
    ADD,
    ...set(D.PA),
    ...get(D.B),
    ...get(D.J),
    ...get(D.RS),
    MUL,
    ADD,
    ...set(D.PB),
  ];
  const step: Code = [];
  for (let r = 0; r < R; r++) step.push(...dRow(D.PA, r), ...vload(0), ...set(D.AV0 + r));
  for (let c = 0; c < CN; c++) {
    step.push(...dRow(D.PB, c), ...vload(0), ...set(D.BT));
    for (let r = 0; r < R; r++) {
      step.push(...get(dacc(r, c)), ...get(D.AV0 + r), ...get(D.BT), ...simd(F32X4_MUL), ...simd(F32X4_ADD), ...set(dacc(r, c)));
    }
  }
  step.push(...get(D.PA), ...i32c(16), ADD, ...set(D.PA), ...get(D.PB), ...i32c(16), ADD, ...set(D.PB));
  // Horizontal sums, (l0 + l1) + (l2 + l3).
  const hsum: Code = [];
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < CN; c++) {
      const v = dacc(r, c);
      hsum.push(...horizontalSum(v), ...set(dsum(r, c)));
    }
  }
  const tail: Code = [];
  for (let r = 0; r < R; r++) {
    for (let c = 0; c < CN; c++) {
      tail.push(...get(dsum(r, c)), ...dRow(D.PA, r), ...F32_LOAD(), ...dRow(D.PB, c), ...F32_LOAD(), F32_MUL, F32_ADD, ...set(dsum(r, c)));
    }
  }
  tail.push(...get(D.PA), ...i32c(4), ADD, ...set(D.PA), ...get(D.PB), ...i32c(4), ADD, ...set(D.PB));
  const epilogue: Code = [...get(D.C), ...get(D.I), ...get(D.N), MUL, ...get(D.J), ADD, ...i32c(4), MUL, ADD, ...set(D.PC)];
  for (let c = 0; c < CN; c++) {
    epilogue.push(
      ...ifElse(
        F32,
        [...get(D.BMODE), ...i32c(1), I32_EQ],
        [...get(D.BIAS), ...get(D.J), ...i32c(4), MUL, ADD, ...fload(4 * c)],
        ifElse(F32, get(D.BMODE), [...get(D.BIAS), ...F32_LOAD()], f32c(0)),
      ),
      ...set(D.SB),
    );
    for (let r = 0; r < R; r++) {
      epilogue.push(
        ...get(dsum(r, c)),
        ...get(D.SB),
        F32_ADD,
        ...set(D.SX),
        ...get(D.PC),
        ...(r === 0 ? [] : [...i32c(r), ...get(D.N), MUL, ...i32c(4), MUL, ADD]),
        ...ifElse(F32, get(D.RELU), [...get(D.SX), ...f32c(0), F32_MAX], get(D.SX)),
        ...fstore(4 * c),
      );
    }
  }
  return [
    ...init,
    ...pointers,
    // Vector steps while KK + 4 <= K; the loop leaves KK at the first element of the tail.
    ...forLoop(D.KK, i32c(0), [...get(D.K), ...i32c(3), SUB], 4, step),
    ...hsum,
    ...forLoop(D.KK, get(D.KK), get(D.K), 1, tail),
    ...epilogue,
  ];
}

function dotRows(R: number): Code {
  return [
    ...forLoop(D.J, i32c(0), [...get(D.N), ...i32c(3), SUB], 4, dotBlock(R, 4)),
    ...forLoop(D.J, get(D.J), get(D.N), 1, dotBlock(R, 1)),
  ];
}

function smmDotBody(): Code {
  return [
    ...get(D.K),
    ...i32c(4),
    MUL,
    ...set(D.RS),
    ...get(D.RS),
    ...i32c(2),
    MUL,
    ...set(D.RS2),
    ...get(D.RS),
    ...i32c(3),
    MUL,
    ...set(D.RS3),
    ...forLoop(D.I, i32c(0), [...get(D.M), ...i32c(1), SUB], 2, dotRows(2)),
    ...forLoop(D.I, get(D.I), get(D.M), 1, dotRows(1)),
  ];
}

// transpose(src, dst, rows, cols), then locals r, c.
function transposeBody(): Code {
  const [SRC, DST, ROWS, COLS, R, Cc] = [0, 1, 2, 3, 4, 5];
  return forLoop(
    R,
    i32c(0),
    get(ROWS),
    1,
    forLoop(Cc, i32c(0), get(COLS), 1, [
      ...get(DST),
      ...get(Cc),
      ...get(ROWS),
      MUL,
      ...get(R),
      ADD,
      ...i32c(4),
      MUL,
      ADD,
      ...get(SRC),
      ...get(R),
      ...get(COLS),
      MUL,
      ...get(Cc),
      ADD,
      ...i32c(4),
      MUL,
      ADD,
      ...F32_LOAD(),
      ...F32_STORE(),
    ]),
  );
}

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function smallMatMulModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  return moduleWithFunctions(shared, [
    {
      name: 'smm',
      params: 11,
      locals: [
        [11, I32],
        [12, V128],
        [6, F32],
      ],
      body: smmBody(),
    },
    {
      name: 'smmDot',
      params: 9,
      locals: [
        [9, I32],
        [11, V128],
        [10, F32],
      ],
      body: smmDotBody(),
    },
    { name: 'transpose', params: 4, locals: [[2, I32]], body: transposeBody() },
  ]);
}

const module = perMemoryModule<SmallMatMulFns>(smallMatMulModuleBytes);

/** Why the SIMD module could not be built (null when it could, or was never asked for). */
export function smallMatMulSimdError(): string | null {
  return module.lastError();
}

/**
 * The routines bound to `memory`, or null where WebAssembly SIMD is unavailable (the caller then
 * keeps the XNNPACK path). Compiled once per memory.
 */
export function smallMatMulFor(memory: WebAssembly.Memory): SmallMatMulFns | null {
  return module.forMemory(memory);
}
