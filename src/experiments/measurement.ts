/**
 * Settings of the sharpness measurements the runner and the CLI take, kept apart from the runner so
 * the CLI can name them in its help without loading the training code.
 */

/**
 * The radius at which every run's surrogate gap h = L(w + e) - L(w) (and Lemma 3's 2h/rho²) is
 * measured: SAM's default rho. It is one radius for all runs, not each run's training rho (ASAM and
 * Adaptive-GSAM train at 0.5), so sharpness columns compare the same neighbourhood across methods.
 */
export const MEASURE_RHO = 0.05;
