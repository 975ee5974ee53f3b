/**
 * The Lanczos process with full re-orthogonalisation, on a symmetric operator given as a function
 * (here: Hessian-vector products), and the eigen-decomposition of the tridiagonal matrix it builds.
 *
 * After m steps from a unit start vector q₀ the basis Q = [q₀ … q_{m−1}] is orthonormal and
 * `QᵀHQ = T`, tridiagonal with diagonal α_j = q_jᵀHq_j and off-diagonal β_j = ‖r_j‖, where
 * r_j = Hq_j − α_j q_j − β_{j−1} q_{j−1} is the step's residual and q_{j+1} = r_j/β_j. In exact
 * arithmetic the three-term recurrence keeps Q orthogonal; in floating point it does not (copies of
 * converged eigenvalues appear, "ghosts"), so every residual is orthogonalised again against the whole
 * basis. That costs O(m·n) memory and time per step, negligible beside a Hessian-vector product over
 * a data set for the m (tens to a few hundred) used here.
 *
 * An eigenpair (θ, s) of T gives the Ritz pair (θ, Qs) with residual ‖H Qs − θ Qs‖ = β_{m−1}·|s_{m−1}|.
 * When a residual vanishes the Krylov space is invariant; the process can then restart from a new
 * vector orthogonal to the basis, which begins a new block of T (coupling 0) and reaches the part of
 * the space the first start vector could not (further copies of a repeated eigenvalue).
 * Internal to src/sharpness.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { flatDot, flatNorm, orthogonalize } from './flatVector.js';

/** Eigenvalues (ascending) and unit eigenvectors (vectors[i] belongs to values[i]) of a tridiagonal matrix. */
export interface TridiagonalEigen {
  values: number[];
  vectors: number[][];
}

/**
 * Eigen-decomposition of the symmetric tridiagonal matrix with diagonal `alphas` and off-diagonal
 * `betas` (length alphas.length − 1), by ml-matrix's symmetric solver (Householder + QL, float64).
 */
export function tridiagonalEigen(alphas: readonly number[], betas: readonly number[]): TridiagonalEigen {
  const m = alphas.length;
  if (m === 1) return { values: [alphas[0]], vectors: [[1]] };
  const t = Matrix.zeros(m, m);
  for (let i = 0; i < m; i++) {
    t.set(i, i, alphas[i]);
    if (i + 1 < m) {
      t.set(i, i + 1, betas[i]);
      t.set(i + 1, i, betas[i]);
    }
  }
  const evd = new EigenvalueDecomposition(t, { assumeSymmetric: true });
  const vectorMatrix = evd.eigenvectorMatrix;
  const pairs = evd.realEigenvalues.map((value, i) => ({ value, vector: vectorMatrix.getColumn(i) }));
  pairs.sort((a, b) => a.value - b.value);
  return { values: pairs.map((p) => p.value), vectors: pairs.map((p) => p.vector) };
}

/** A run of basis vectors that the recurrence links; blocks are separated by restarts. */
export interface LanczosBlock {
  /** Index in the basis of the block's first vector. */
  start: number;
  /** One past its last vector. */
  end: number;
  /** β of the block's last step: the norm of the residual that was dropped at the restart (0 for the active block until it closes). */
  closingResidual: number;
}

/** The Lanczos process on `apply` (a symmetric operator on R^n). */
export class LanczosProcess {
  /** The orthonormal basis, stored in float32: exactly the vectors the operator was applied to. */
  readonly basis: Float32Array[] = [];
  /** Diagonal of T. */
  readonly alphas: number[] = [];
  /** couplings[j] links basis j and j + 1 (0 across a restart). */
  readonly couplings: number[] = [];
  readonly blocks: LanczosBlock[] = [];
  /** ‖r‖ of the last step: the coupling to the next vector, and the scale of the active block's residuals. */
  residualNorm = 0;
  /** Operator applications so far. */
  products = 0;
  /** The next basis vector (unit norm); null after a step whose residual vanished, until a restart. */
  private next: Float64Array | null;
  private nextCoupling = 0;

  /** @param start a nonzero start vector (any norm). */
  constructor(
    private readonly apply: (q: Float32Array) => Float64Array,
    readonly n: number,
    start: Float64Array,
  ) {
    const s = flatNorm(start);
    if (!(s > 0) || !Number.isFinite(s)) throw new RangeError(`LanczosProcess: start vector must be finite and nonzero, got norm ${s}`);
    this.next = start.map((x) => x / s);
    this.blocks.push({ start: 0, end: 0, closingResidual: 0 });
  }

  /** Number of basis vectors (= steps taken). */
  get size(): number {
    return this.basis.length;
  }

  /** The block the next step extends. */
  get activeBlock(): LanczosBlock {
    return this.blocks[this.blocks.length - 1];
  }

  /** One step: applies the operator to the next basis vector and extends T. Needs size < n. */
  step(): void {
    if (this.size >= this.n) throw new RangeError(`LanczosProcess: the basis already spans R^${this.n}`);
    if (this.next === null) throw new Error('LanczosProcess: the Krylov space is invariant (zero residual); restart() first');
    const j = this.size;
    const q = Float32Array.from(this.next);
    if (j > 0) this.couplings.push(this.nextCoupling);
    this.basis.push(q);
    this.activeBlock.end = j + 1;
    const w = this.apply(q);
    this.products++;
    const alpha = flatDot(q, w);
    if (!Number.isFinite(alpha))
      throw new Error('LanczosProcess: the operator returned a non-finite vector (loss not finite at these weights?)');
    this.alphas.push(alpha);
    for (let i = 0; i < w.length; i++) w[i] -= alpha * q[i];
    if (j > this.activeBlock.start) {
      const beta = this.couplings[j - 1];
      const previous = this.basis[j - 1];
      for (let i = 0; i < w.length; i++) w[i] -= beta * previous[i];
    }
    orthogonalize(w, this.basis);
    this.residualNorm = flatNorm(w);
    this.nextCoupling = this.residualNorm;
    if (this.residualNorm > 0) {
      for (let i = 0; i < w.length; i++) w[i] /= this.residualNorm;
      this.next = w;
    } else {
      this.next = null;
    }
  }

  /**
   * Closes the active block and makes `v` (orthogonalised against the basis) the next basis vector,
   * with coupling 0. Returns false, changing nothing, when `v` has no part outside the basis's span.
   */
  restart(v: Float64Array): boolean {
    const w = Float64Array.from(v);
    const before = flatNorm(w);
    orthogonalize(w, this.basis);
    const after = flatNorm(w);
    // A vector that loses all but a rounding-level part to the basis is (numerically) in its span.
    if (!(after > 1e-6 * before)) return false;
    for (let i = 0; i < w.length; i++) w[i] /= after;
    this.activeBlock.closingResidual = this.residualNorm;
    this.blocks.push({ start: this.size, end: this.size, closingResidual: 0 });
    this.next = w;
    this.nextCoupling = 0;
    this.residualNorm = 0;
    return true;
  }

  /** Eigen-decomposition of the block's part of T. */
  blockEigen(block: LanczosBlock): TridiagonalEigen {
    return tridiagonalEigen(this.alphas.slice(block.start, block.end), this.couplings.slice(block.start, block.end - 1));
  }

  /** Residual norm of the block's last step (the active block's is the current one). */
  blockResidual(block: LanczosBlock): number {
    return block === this.activeBlock ? this.residualNorm : block.closingResidual;
  }

  /** The Ritz vector Σ_j s_j q_{start+j} of an eigenvector `s` of the block's T. */
  ritzVector(block: LanczosBlock, s: readonly number[]): Float64Array {
    const y = new Float64Array(this.n);
    for (let j = 0; j < s.length; j++) {
      const q = this.basis[block.start + j];
      const c = s[j];
      for (let i = 0; i < y.length; i++) y[i] += c * q[i];
    }
    return y;
  }
}
