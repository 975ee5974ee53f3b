/**
 * A small seeded pseudo-random generator whose whole state is four 32-bit integers, so a run can
 * checkpoint it and resume the exact same stream. Math.random cannot be seeded and the npm seeded
 * generators do not expose their state for saving, hence this hand-written sfc32 (Chris Doty-Humphrey's
 * Small Fast Counting generator, public domain), seeded through splitmix32.
 */

/** The complete state of a {@link Rng}, plain JSON. */
export type RngState = [number, number, number, number];

/**
 * A seeded sfc32 stream of uniform, integer and normal variates whose whole state can be saved
 * ({@link Rng.getState}) and restored ({@link Rng.setState}).
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  private spareNormal: number | null = null;

  /** @param seed any integer; the same seed always gives the same stream. */
  constructor(seed: number) {
    if (!Number.isInteger(seed))
      throw new (typeof seed === 'number' ? RangeError : TypeError)(`Rng: seed must be an integer, got ${String(seed)}`);
    // splitmix32 spreads a small integer seed over the 128-bit state.
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.uint32();
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  uint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = (this.b ^ (this.b >>> 9)) >>> 0;
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.uint32() / 4294967296;
  }

  /**
   * Fills `out` with Bernoulli(p) draws, 1 where the draw is below p, else 0: element i gets exactly
   * what `next() < p` would give as the i-th call, so the stream and the state after it are the same
   * as that loop's. The generator is inlined on locals: the per-call version cost about 30 ns an
   * element in Node 20, which made ESAM's weight masks (one draw per weight) a large share of its step.
   * @throws RangeError (TypeError for a non-number) unless 0 <= p <= 1.
   */
  fillBernoulli(out: Float32Array, p: number): void {
    if (typeof p !== 'number' || !(p >= 0 && p <= 1))
      throw new (typeof p === 'number' ? RangeError : TypeError)(`Rng.fillBernoulli: p must be a number in [0, 1], got ${String(p)}`);
    // uint32 / 2^32 < p exactly when uint32 < ceil(p * 2^32) =: T (scaling by a power of two is
    // exact, and uint32 is an integer); T = 2^32 (p = 1) does not fit 32 bits and means "always".
    const threshold = Math.ceil(p * 4294967296);
    const state = bernoulliDraws(
      out,
      threshold >= 4294967296 ? -1 : threshold | 0,
      threshold >= 4294967296,
      this.a,
      this.b,
      this.c,
      this.d,
    );
    this.a = state[0];
    this.b = state[1];
    this.c = state[2];
    this.d = state[3];
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0)
      throw new (typeof n === 'number' ? RangeError : TypeError)(`Rng.int: n must be a positive integer, got ${String(n)}`);
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, both values used). */
  normal(): number {
    if (this.spareNormal !== null) {
      const v = this.spareNormal;
      this.spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i];
      p[i] = p[j];
      p[j] = t;
    }
    return p;
  }

  /** A seed for another generator (or a tfjs initializer), drawn from this stream. */
  seed(): number {
    return this.uint32() & 0x7fffffff;
  }

  /** The state, for checkpoints. The spare normal is dropped, so save only between whole draws. */
  getState(): RngState {
    return [this.a, this.b, this.c, this.d];
  }

  /** Restore a state from {@link getState}. */
  setState(state: RngState): void {
    if (!Array.isArray(state) || state.length !== 4 || !state.every((v) => Number.isInteger(v) && v >= 0 && v < 2 ** 32)) {
      throw new (Array.isArray(state) ? RangeError : TypeError)(
        `Rng.setState: state must be four unsigned 32-bit integers, got ${JSON.stringify(state)}`,
      );
    }
    [this.a, this.b, this.c, this.d] = state;
    this.spareNormal = null;
  }
}

/**
 * The loop of {@link Rng.fillBernoulli}: `out[i] = [u_i < T]` for the sfc32 draws u_i from state
 * (a, b, c, d), T given as its 32 bits (`always`: T = 2^32, every draw counts); returns the state
 * after them, unsigned. A free function of numbers and in int32 arithmetic (`| 0`), which V8 keeps
 * in registers: as a method reading and writing `this` it ran about 3x slower (measured in Node 20:
 * 6 ns against 2 ns an element). Branch-free, since a 50 % branch mispredicts half the time: [u < T]
 * is the borrow out of the 32-bit subtraction u - T.
 */
function bernoulliDraws(out: Float32Array, threshold: number, always: boolean, a0: number, b0: number, c0: number, d0: number): RngState {
  let a = a0 | 0;
  let b = b0 | 0;
  let c = c0 | 0;
  let d = d0 | 0;
  const T = threshold | 0;
  const n = out.length;
  for (let i = 0; i < n; i++) {
    // The same sfc32 steps as Rng.uint32(), equal modulo 2^32.
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    out[i] = always ? 1 : ((~t & T) | (~(t ^ T) & ((t - T) | 0))) >>> 31;
  }
  return [a >>> 0, b >>> 0, c >>> 0, d >>> 0];
}
