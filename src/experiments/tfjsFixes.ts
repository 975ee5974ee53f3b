/**
 * The tfjs optimiser-state work-arounds moved down to src/util/tfjsFixes.ts, so that the optimisers
 * themselves apply them (SharpnessAwareOptimizer.setWeights); re-exported here for the runner.
 */
export { float32RunningPower, repairRestoredOptimizer } from '../util/tfjsFixes.js';
