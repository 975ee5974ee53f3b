/**
 * Climb policies: which steps climb (two forward-backward passes, at w and at w + e) and which take a
 * one-pass step from the clean gradient alone (the descent rule's `directionWithoutClimb`, by default
 * `d = g`). SAM every k steps, its randomised form and LookSAM's reuse steps are policies; every
 * method of ALGORITHMS.md climbs on every step.
 */
import type { MaybeStateful } from './ruleState.js';

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
