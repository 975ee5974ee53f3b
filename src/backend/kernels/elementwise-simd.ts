/**
 * Element-wise arithmetic, ReLU, its gradient mask and sums as small WebAssembly SIMD routines on the
 * wasm backend's memory (imported), single-threaded and called directly from JS.
 *
 * Why: the stock wasm kernels reach C through Emscripten `ccall` with shape arrays copied for every
 * call (~1.5 us of JS per call, most of the MLP step), broadcast with per-element index arithmetic
 * (the conv bias add runs at half memory speed), and in the threaded build hand even 128-element
 * products to XNNPACK's thread pool, whose wake-ups made the MLP step slower on 2 threads than on 1.
 * Assembled with wasm-asm.ts because each routine is a few dozen bytes.
 *
 * Exported functions (pointers are byte offsets; counts are elements; all i32 unless said):
 *   {op}_same(a, b, out, n)            out[i]   = a[i] op b[i]
 *   {op}_row(a, b, out, rows, cols)    out[r,c] = a[r,c] op b[c]
 *   {op}_col(a, b, out, rows, cols)    out[r,c] = a[r,c] op b[r]
 *   {op}_row_rev / {op}_col_rev        the same with the operands of `op` swapped (b op a)
 *     for op in add, sub, mul, div
 *   relu(x, out, n)                    max(x, 0), NaN stays NaN
 *   step(x, out, n, alpha: f32)        x > 0 ? 1 : alpha, NaN stays NaN
 *   sum_rows(x, out, tmp, rows, cols)  out[c] += sum over r of x[r,c]  (zero out; tmp: cols floats of scratch)
 *   sum_cols(x, out, rows, cols)       out[r] = sum over c of x[r,c]
 *   dot(a, b, out, n)                  out[0] = sum over i of a[i] * b[i], summed as sum_cols sums
 *                                      the products (so equal to it bit for bit)
 *   axpy(x, y, out, n, s: f32)         out[i] = x[i] + s * y[i]  (two roundings, as Add of Multiply)
 *   scale(y, out, n, s: f32)           out[i] = s * y[i]
 *   masked_axpy(x, y, m, out, n, s: f32) out[i] = x[i] + s * (y[i] * m[i])  (three roundings, as
 *                                      Add(x, Multiply(Multiply(y, m), s)))
 * Sums run in blocks (64 rows, 1024 columns) whose partial sums are added at the end, so rounding
 * error grows with the block count and not with the full length.
 */
import {
  ADD,
  AND,
  F32,
  F32X4_ADD,
  F32X4_DIV,
  F32X4_EXTRACT,
  F32X4_GT,
  F32X4_MAX,
  F32X4_MUL,
  F32X4_NE,
  F32X4_SPLAT,
  F32X4_SUB,
  F32_ADD,
  F32_DIV,
  F32_LOAD,
  F32_MUL,
  F32_STORE,
  F32_SUB,
  BITSELECT,
  I32,
  LT_S,
  MUL,
  V128,
  V128_STORE,
  f32c,
  f32x4,
  forLoop,
  get,
  i32c,
  horizontalSum,
  moduleWithFunctions,
  uleb,
  perMemoryModule,
  set,
  simd,
  v128const,
  type Code,
  type FunctionSpec,
} from './wasm-asm.js';

/** Binary operations with a SIMD routine. */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div';
/** How the second operand is laid out against the first. */
export type BroadcastPattern = 'same' | 'row' | 'col';

type Ptr = number;
/** The routines of one wasm memory, by export name. */
export type ElementwiseRoutines = Record<`${BinaryOp}_same`, (a: Ptr, b: Ptr, out: Ptr, n: number) => void> &
  Record<`${BinaryOp}_${'row' | 'col'}${'' | '_rev'}`, (a: Ptr, b: Ptr, out: Ptr, rows: number, cols: number) => void> & {
    relu(x: Ptr, out: Ptr, n: number): void;
    step(x: Ptr, out: Ptr, n: number, alpha: number): void;
    relu_grad(dy: Ptr, y: Ptr, out: Ptr, n: number): void;
    sum_rows(x: Ptr, out: Ptr, tmp: Ptr, rows: number, cols: number): void;
    sum_cols(x: Ptr, out: Ptr, rows: number, cols: number): void;
    dot(a: Ptr, b: Ptr, out: Ptr, n: number): void;
    axpy(x: Ptr, y: Ptr, out: Ptr, n: number, s: number): void;
    scale(y: Ptr, out: Ptr, n: number, s: number): void;
    masked_axpy(x: Ptr, y: Ptr, m: Ptr, out: Ptr, n: number, s: number): void;
  };

const OPS: Record<BinaryOp, { vec: number; scalar: number }> = {
  add: { vec: F32X4_ADD, scalar: F32_ADD },
  sub: { vec: F32X4_SUB, scalar: F32_SUB },
  mul: { vec: F32X4_MUL, scalar: F32_MUL },
  div: { vec: F32X4_DIV, scalar: F32_DIV },
};

const load4 = (addr: Code, offset = 0): Code => [...addr, ...simd(0x00, 0x02, ...uleb(offset))];
const store4 = (offset = 0): Code => simd(0x0b, 0x02, ...uleb(offset));
const load1 = (addr: Code): Code => [...addr, ...F32_LOAD()];
const plus = (p: number, q: number): Code => [...get(p), ...get(q), ADD];
/** Bytes of the largest multiple of `lanes` elements not above `count` (a value-producing code). */
const wholeBytes = (count: Code, lanes: number): Code => [...count, ...i32c(-lanes), AND, ...i32c(4), MUL];
const bytes = (count: Code): Code => [...count, ...i32c(4), MUL];

/**
 * `dst[i] = f(i)` over the byte offsets [0, bytes(count)) of a row: 64 bytes (four vectors,
 * unrolled) at a time, then 16, then 4. `vec(off)` computes the vector at byte offset I + off,
 * `scalar` the float at I.
 */
function vectorThenScalar(i: number, count: Code, dst: number, vec: (off: number) => Code, scalar: Code): Code {
  const four: Code = [0, 16, 32, 48].flatMap((off) => [...plus(dst, i), ...vec(off), ...store4(off)]);
  return [
    ...forLoop(i, i32c(0), wholeBytes(count, 16), 64, four),
    ...forLoop(i, get(i), wholeBytes(count, 4), 16, [...plus(dst, i), ...vec(0), ...store4()]),
    ...forLoop(i, get(i), bytes(count), 4, [...plus(dst, i), ...scalar, ...F32_STORE()]),
  ];
}

function binarySame(op: BinaryOp): FunctionSpec {
  const [A, B, OUT, N, I] = [0, 1, 2, 3, 4];
  const { vec, scalar } = OPS[op];
  return {
    name: `${op}_same`,
    params: 4,
    locals: [[1, I32]],
    body: vectorThenScalar(I, get(N), OUT, (off) => [...load4(plus(A, I), off), ...load4(plus(B, I), off), ...simd(vec)], [
      ...load1(plus(A, I)),
      ...load1(plus(B, I)),
      scalar,
    ]),
  };
}

/** row: b indexed by column; col: b indexed by row (splatted). `rev` computes b op a. */
function binaryBroadcast(op: BinaryOp, pattern: 'row' | 'col', rev: boolean): FunctionSpec {
  const [A, B, OUT, ROWS, COLS] = [0, 1, 2, 3, 4];
  const [R, I, PA, PO, ROWBYTES, S] = [5, 6, 7, 8, 9, 10];
  const { vec, scalar } = OPS[op];
  const order = (x: Code, y: Code): Code => (rev ? [...y, ...x] : [...x, ...y]);
  const bVec = (off: number): Code => (pattern === 'row' ? load4(plus(B, I), off) : get(S));
  const bScalar: Code = pattern === 'row' ? load1(plus(B, I)) : [...get(S), ...simd(F32X4_EXTRACT, 0)];
  const perRow: Code = [
    ...get(A),
    ...get(R),
    ...get(ROWBYTES),
    MUL,
    ADD,
    ...set(PA),
    ...get(OUT),
    ...get(R),
    ...get(ROWBYTES),
    MUL,
    ADD,
    ...set(PO),
    ...(pattern === 'col' ? [...load1([...get(B), ...get(R), ...i32c(4), MUL, ADD]), ...simd(F32X4_SPLAT), ...set(S)] : []),
    ...vectorThenScalar(I, get(COLS), PO, (off) => [...order(load4(plus(PA, I), off), bVec(off)), ...simd(vec)], [
      ...order(load1(plus(PA, I)), bScalar),
      scalar,
    ]),
  ];
  return {
    name: `${op}_${pattern}${rev ? '_rev' : ''}`,
    params: 5,
    locals: [
      [5, I32],
      [1, V128],
    ],
    body: [...bytes(get(COLS)), ...set(ROWBYTES), ...forLoop(R, i32c(0), get(ROWS), 1, perRow)],
  };
}

function relu(): FunctionSpec {
  const [X, OUT, N, I] = [0, 1, 2, 3];
  return {
    name: 'relu',
    params: 3,
    locals: [[1, I32]],
    body: vectorThenScalar(
      I,
      get(N),
      OUT,
      // f32x4.max propagates NaN and maps -0 to +0, as max(x, 0) on the cpu backend does.
      (off) => [...load4(plus(X, I), off), ...v128const(f32x4(0)), ...simd(F32X4_MAX)],
      [...load1(plus(X, I)), ...simd(F32X4_SPLAT), ...v128const(f32x4(0)), ...simd(F32X4_MAX), ...simd(F32X4_EXTRACT, 0)],
    ),
  };
}

/**
 * The code of step(x) for a vector `x`: 1 where x > 0, `alpha` (a vector code) elsewhere, and x itself
 * where it is NaN; `v` is a v128 local to hold x. v128.bitselect(ifTrue, ifFalse, mask) twice: x
 * where x != x, else bitselect(1, alpha, x > 0).
 */
function stepVector(x: Code, v: number, alpha: Code): Code {
  return [
    ...x,
    ...set(v),
    ...get(v),
    ...v128const(f32x4(1)),
    ...alpha,
    ...get(v),
    ...v128const(f32x4(0)),
    ...simd(F32X4_GT),
    ...simd(BITSELECT),
    ...get(v),
    ...get(v),
    ...simd(F32X4_NE),
    ...simd(BITSELECT),
  ];
}

function step(): FunctionSpec {
  const [X, OUT, N, ALPHA] = [0, 1, 2, 3];
  const [I, V, AL] = [4, 5, 6];
  const selectNaN = (x: Code): Code => stepVector(x, V, get(AL));
  return {
    name: 'step',
    params: [I32, I32, I32, F32],
    locals: [
      [1, I32],
      [2, V128],
    ],
    body: [
      ...get(ALPHA),
      ...simd(F32X4_SPLAT),
      ...set(AL),
      ...vectorThenScalar(I, get(N), OUT, (off) => selectNaN(load4(plus(X, I), off)), [
        ...selectNaN([...load1(plus(X, I)), ...simd(F32X4_SPLAT)]),
        ...simd(F32X4_EXTRACT, 0),
      ]),
    ],
  };
}

/**
 * relu_grad: out[i] = dy[i] * step(y[i]) (y > 0 ? 1 : 0, NaN where y is NaN), what tfjs computes
 * for a fused ReLU's gradient as Multiply(dy, Step(y)), in one pass and without the step tensor.
 */
function reluGrad(): FunctionSpec {
  const [DY, Y, OUT, N] = [0, 1, 2, 3];
  const [I, V] = [4, 5];
  const times = (dy: Code, y: Code): Code => [...dy, ...stepVector(y, V, v128const(f32x4(0))), ...simd(F32X4_MUL)];
  return {
    name: 'relu_grad',
    params: 4,
    locals: [
      [1, I32],
      [1, V128],
    ],
    body: vectorThenScalar(I, get(N), OUT, (off) => times(load4(plus(DY, I), off), load4(plus(Y, I), off)), [
      ...times([...load1(plus(DY, I)), ...simd(F32X4_SPLAT)], [...load1(plus(Y, I)), ...simd(F32X4_SPLAT)]),
      ...simd(F32X4_EXTRACT, 0),
    ]),
  };
}

const ROW_BLOCK = 64;
const COL_BLOCK = 1024;

/**
 * out[c] += sum over r of x[r,c]: each block of ROW_BLOCK rows is summed into `tmp` (cols floats,
 * zeroed here), which is then added to `out` (zeroed by the caller).
 */
function sumRows(): FunctionSpec {
  const [X, OUT, TMP, ROWS, COLS] = [0, 1, 2, 3, 4];
  const [R0, R, I, ROWBYTES, END4, PX, REND] = [5, 6, 7, 8, 9, 10, 11];
  /** dst[i] += src[i] over one row of cols floats. */
  const accumulate = (dst: number, src: number): Code => [
    ...forLoop(I, i32c(0), get(END4), 16, [
      ...plus(dst, I),
      ...load4(plus(dst, I)),
      ...load4(plus(src, I)),
      ...simd(F32X4_ADD),
      ...V128_STORE(),
    ]),
    ...forLoop(I, get(I), get(ROWBYTES), 4, [...plus(dst, I), ...load1(plus(dst, I)), ...load1(plus(src, I)), F32_ADD, ...F32_STORE()]),
  ];
  const zeroTmp: Code = forLoop(I, i32c(0), get(ROWBYTES), 4, [...plus(TMP, I), ...f32c(0), ...F32_STORE()]);
  const addRow: Code = [...get(X), ...get(R), ...get(ROWBYTES), MUL, ADD, ...set(PX), ...accumulate(TMP, PX)];
  return {
    name: 'sum_rows',
    params: 5,
    locals: [[7, I32]],
    body: [
      ...bytes(get(COLS)),
      ...set(ROWBYTES),
      ...wholeBytes(get(COLS), 4),
      ...set(END4),
      ...forLoop(R0, i32c(0), get(ROWS), ROW_BLOCK, [
        ...get(R0),
        ...i32c(ROW_BLOCK),
        ADD,
        ...set(REND),
        ...get(REND),
        ...get(ROWS),
        ...get(REND),
        ...get(ROWS),
        LT_S,
        0x1b,
        ...set(REND), // min(r0 + block, rows)
        ...zeroTmp,
        ...forLoop(R, get(R0), get(REND), 1, addRow),
        ...accumulate(OUT, TMP),
      ]),
    ],
  };
}

/** Locals of {@link blockSum}: the block's start and end (bytes), the index, the end of the run, an accumulator (v128) and the total (f32). */
interface BlockSumLocals {
  C0: number;
  CEND: number;
  I: number;
  END: number;
  ACC: number;
  TOTAL: number;
}

/**
 * The body of a loop over blocks of COL_BLOCK elements starting at byte C0 (up to END): TOTAL +=
 * the block's sum, made of 4-wide partial sums of `vec(i)` (the vector at byte offset i, while
 * i + 16 <= the block's end), their horizontal sum, then `scalar(i)` for the tail. Summing in blocks
 * keeps rounding error growing with the block count, not with the length.
 */
function blockSum(l: BlockSumLocals, vec: (i: Code) => Code, scalar: (i: Code) => Code): Code {
  const { C0, CEND, I, END, ACC, TOTAL } = l;
  return [
    ...get(C0),
    ...i32c(COL_BLOCK * 4),
    ADD,
    ...set(CEND),
    ...get(CEND),
    ...get(END),
    ...get(CEND),
    ...get(END),
    LT_S,
    0x1b,
    ...set(CEND), // min(c0 + block, end) in bytes
    ...v128const(f32x4(0)),
    ...set(ACC),
    // vector part: while i + 16 <= cend
    ...get(C0),
    ...set(I),
    0x02,
    0x40,
    0x03,
    0x40,
    ...get(I),
    ...i32c(16),
    ADD,
    ...get(CEND),
    0x4a /* gt_s */,
    0x0d,
    0x01,
    ...get(ACC),
    ...vec(get(I)),
    ...simd(F32X4_ADD),
    ...set(ACC),
    ...get(I),
    ...i32c(16),
    ADD,
    ...set(I),
    0x0c,
    0x00,
    0x0b,
    0x0b,
    ...get(TOTAL),
    ...horizontalSum(ACC),
    F32_ADD,
    ...set(TOTAL),
    ...forLoop(I, get(I), get(CEND), 4, [...get(TOTAL), ...scalar(get(I)), F32_ADD, ...set(TOTAL)]),
  ];
}

/** out[r] = sum over c of x[r,c]: 4-wide partial sums per block of COL_BLOCK columns. */
function sumCols(): FunctionSpec {
  const [X, OUT, ROWS, COLS] = [0, 1, 2, 3];
  const [R, C0, CEND, I, PX] = [4, 5, 6, 7, 8];
  const ACC = 10; // v128: the block's four partial sums
  const TOTAL = 11; // f32: the row's sum
  const perBlock = blockSum(
    { C0, CEND, I, END: PX, ACC, TOTAL },
    (i) => load4([...get(X), ...i, ADD]),
    (i) => load1([...get(X), ...i, ADD]),
  );
  return {
    name: 'sum_cols',
    params: 4,
    locals: [
      [6, I32],
      [1, V128],
      [1, F32],
    ],
    body: forLoop(R, i32c(0), get(ROWS), 1, [
      // C0..PX: the row's byte range relative to x.
      ...f32c(0),
      ...set(TOTAL),
      ...get(R),
      ...get(COLS),
      MUL,
      ...i32c(4),
      MUL,
      ...set(C0),
      ...get(C0),
      ...get(COLS),
      ...i32c(4),
      MUL,
      ADD,
      ...set(PX),
      ...forLoop(C0, get(C0), get(PX), COL_BLOCK * 4, perBlock),
      ...get(OUT),
      ...get(R),
      ...i32c(4),
      MUL,
      ADD,
      ...get(TOTAL),
      ...F32_STORE(),
    ]),
  };
}

/**
 * out[0] = sum of a[i] * b[i]: the products rounded to float32 and summed in the blocks and order
 * of sum_cols on one row, so that it equals Sum of Multiply on these routines exactly (one pass
 * over memory instead of two, and no product tensor).
 */
function dot(): FunctionSpec {
  const [A, B, OUT, N] = [0, 1, 2, 3];
  const [C0, CEND, I, END] = [4, 5, 6, 7];
  const ACC = 8; // v128: the block's four partial sums
  const TOTAL = 9; // f32
  const perBlock = blockSum(
    { C0, CEND, I, END, ACC, TOTAL },
    (i) => [...load4([...get(A), ...i, ADD]), ...load4([...get(B), ...i, ADD]), ...simd(F32X4_MUL)],
    (i) => [...load1([...get(A), ...i, ADD]), ...load1([...get(B), ...i, ADD]), F32_MUL],
  );
  return {
    name: 'dot',
    params: 4,
    locals: [
      [4, I32],
      [1, V128],
      [1, F32],
    ],
    body: [
      ...f32c(0),
      ...set(TOTAL),
      ...bytes(get(N)),
      ...set(END),
      ...forLoop(C0, i32c(0), get(END), COL_BLOCK * 4, perBlock),
      ...get(OUT),
      ...get(TOTAL),
      ...F32_STORE(),
    ],
  };
}

/**
 * axpy: out[i] = x[i] + s * y[i], the product rounded and then the sum (as Add(x, Multiply(s, y))
 * computes it); scale (no x): out[i] = s * y[i]. The f32 parameter s comes last.
 */
function scaledSum(withX: boolean): FunctionSpec {
  const X = 0;
  const Y = withX ? 1 : 0;
  const [OUT, N, S, I, SV] = [Y + 1, Y + 2, Y + 3, Y + 4, Y + 5];
  const sy = (off: number): Code => [...get(SV), ...load4(plus(Y, I), off), ...simd(F32X4_MUL)];
  const sy1: Code = [...get(S), ...load1(plus(Y, I)), F32_MUL];
  return {
    name: withX ? 'axpy' : 'scale',
    params: [...(withX ? [I32] : []), I32, I32, I32, F32],
    locals: [
      [1, I32],
      [1, V128],
    ],
    body: [
      ...get(S),
      ...simd(F32X4_SPLAT),
      ...set(SV),
      ...vectorThenScalar(
        I,
        get(N),
        OUT,
        (off) => (withX ? [...load4(plus(X, I), off), ...sy(off), ...simd(F32X4_ADD)] : sy(off)),
        withX ? [...load1(plus(X, I)), ...sy1, F32_ADD] : sy1,
      ),
    ],
  };
}

/**
 * masked_axpy: out[i] = x[i] + s * (y[i] * m[i]), each product rounded and then the sum, as
 * Add(x, Multiply(Multiply(y, m), s)) computes it (ESAM's move along a masked gradient).
 */
function maskedAxpy(): FunctionSpec {
  const [X, Y, M, OUT, N, S, I, SV] = [0, 1, 2, 3, 4, 5, 6, 7];
  const vec = (off: number): Code => [
    ...load4(plus(X, I), off),
    ...get(SV),
    ...load4(plus(Y, I), off),
    ...load4(plus(M, I), off),
    ...simd(F32X4_MUL),
    ...simd(F32X4_MUL),
    ...simd(F32X4_ADD),
  ];
  const one: Code = [...load1(plus(X, I)), ...get(S), ...load1(plus(Y, I)), ...load1(plus(M, I)), F32_MUL, F32_MUL, F32_ADD];
  return {
    name: 'masked_axpy',
    params: [I32, I32, I32, I32, I32, F32],
    locals: [
      [1, I32],
      [1, V128],
    ],
    body: [...get(S), ...simd(F32X4_SPLAT), ...set(SV), ...vectorThenScalar(I, get(N), OUT, vec, one)],
  };
}

/** The module's bytes, importing `env.memory` (shared with a 4 GiB maximum when `shared`). */
export function elementwiseModuleBytes(shared: boolean): Uint8Array<ArrayBuffer> {
  const functions: FunctionSpec[] = [];
  for (const op of Object.keys(OPS) as BinaryOp[]) {
    functions.push(binarySame(op));
    for (const pattern of ['row', 'col'] as const) for (const rev of [false, true]) functions.push(binaryBroadcast(op, pattern, rev));
  }
  functions.push(relu(), step(), reluGrad(), sumRows(), sumCols(), dot(), scaledSum(true), scaledSum(false), maskedAxpy());
  return moduleWithFunctions(shared, functions);
}

const module = perMemoryModule<ElementwiseRoutines>(elementwiseModuleBytes);

/** The routines bound to `memory`, or null where WebAssembly SIMD is unavailable. */
export function elementwiseFor(memory: WebAssembly.Memory): ElementwiseRoutines | null {
  return module.forMemory(memory);
}

/** Why the routines could not be built (null when they could, or were never asked for). */
export function elementwiseSimdError(): string | null {
  return module.lastError();
}
