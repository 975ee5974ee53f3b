/**
 * Climb policies: which steps climb (two forward-backward passes, at w and at w + e) and which take a
 * one-pass step from the clean gradient alone (the descent rule's `directionWithoutClimb`, by default
 * `d = g`). SAM every k steps (`everyKthStep`), its randomised form RST (`randomClimb`, Zhao et al.
 * 2022) and LookSAM's reuse steps are policies; SAM, ASAM, GSAM and Adaptive-GSAM climb every step.
 */
import { Rng } from '../util/random.js';
import { checkNumber, checkSeed } from '../util/validation.js';
import { rngState, type MaybeStateful } from './ruleState.js';

/** What a climb policy is told each step. */
export interface ClimbContext {
  /** The step's index, counting from 0 (the optimiser's `step`). */
  readonly step: number;
}

/** Decides, once per step and before its first pass, whether the step climbs. */
export interface ClimbPolicy extends MaybeStateful {
  /** A short name used in configs and records, e.g. 'every-step'. */
  readonly name: string;
  /**
   * True when step `context.step` climbs. Called exactly once per step, so a policy that draws at
   * random may advance its generator here (and save it in its `state`).
   */
  climbs(context: ClimbContext): boolean;
}

/** The policy of SAM, ASAM, GSAM and Adaptive-GSAM: every step climbs. */
export function everyStep(): ClimbPolicy {
  return { name: 'every-step', climbs: () => true };
}

/**
 * Climbs on the 1st, (1+k)-th, (1+2k)-th, ... step (0-based steps `0, k, 2k, ...`): SAM every k
 * steps, and LookSAM's schedule. `k = 1` is {@link everyStep}.
 * @throws RangeError (TypeError for a non-number) unless k is an integer >= 1.
 */
export function everyKthStep(k: number): ClimbPolicy {
  checkNumber('everyKthStep', 'k', k, undefined, { min: 1, integer: true });
  return { name: `every-${k}-steps`, climbs: ({ step }) => step % k === 0 };
}

/**
 * RST (randomised sharpness-aware training, Zhao et al. 2022): each step draws `u` uniform in
 * [0, 1) from a generator seeded with `seed` and climbs when `u < probability`, so probability 1
 * climbs every step and 0 never. The draw happens on every step, and the generator's state is the
 * policy's state (saved with the optimiser), so a resumed run climbs on the same steps.
 * @throws RangeError (TypeError for a non-number) unless probability is in [0, 1] and seed an integer.
 */
export function randomClimb(probability: number, seed = 0): ClimbPolicy {
  checkNumber('randomClimb', 'probability', probability, undefined, { min: 0, max: 1 });
  const rng = new Rng(checkSeed('randomClimb', seed, 0));
  return { name: 'random', climbs: () => rng.next() < probability, state: rngState(rng) };
}

/**
 * Climbs on the steps where every one of `policies` climbs. Each policy is asked on every step (none
 * is skipped because another said no), so random policies draw once per step whatever the others say.
 * At most one of them may carry state (its state is this policy's).
 * @throws TypeError when given no policy, or more than one with state.
 */
export function allOf(...policies: ClimbPolicy[]): ClimbPolicy {
  if (policies.length === 0) throw new TypeError('allOf: needs at least one climb policy');
  if (policies.length === 1) return policies[0];
  const stateful = policies.filter((p) => p.state !== undefined);
  if (stateful.length > 1) throw new TypeError(`allOf: at most one policy may carry state, got ${stateful.map((p) => p.name).join(', ')}`);
  return {
    name: policies.map((p) => p.name).join('+'),
    climbs: (context) => policies.map((p) => p.climbs(context)).every(Boolean),
    ...(stateful.length === 1 ? { state: stateful[0].state } : {}),
  };
}
