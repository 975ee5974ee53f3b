/**
 * A `model.fit` callback that puts the sharpness-aware step's perturbed loss `L_p` and surrogate gap
 * `h` into the batch and epoch logs (so they appear in `history.history` next to the clean loss).
 */
import * as tf from '@tensorflow/tfjs';
import type { SharpnessAwareOptimizer } from './optimizer.js';

type Logs = Record<string, number | tf.Scalar>;

/**
 * Adds `perturbedLoss` and `surrogateGap` to the logs of every batch (that step's values) and of
 * every epoch (the epoch's mean).
 * @example await model.fit(x, y, { epochs: 5, callbacks: [new SharpnessMetricsCallback(optimizer)] })
 */
export class SharpnessMetricsCallback extends tf.Callback {
  private sumPerturbed = 0;
  private sumGap = 0;
  private count = 0;

  constructor(private readonly optimizer: SharpnessAwareOptimizer) {
    super();
  }

  /** Starts the epoch's means afresh. */
  override async onEpochBegin(): Promise<void> {
    this.sumPerturbed = 0;
    this.sumGap = 0;
    this.count = 0;
  }

  /** Puts this step's `perturbedLoss` and `surrogateGap` into the batch's logs. */
  override async onBatchEnd(_batch: number, logs?: Logs): Promise<void> {
    const perturbed = this.optimizer.lastPerturbedLoss;
    const gap = this.optimizer.lastSurrogateGap;
    if (perturbed === null || gap === null) return;
    this.sumPerturbed += perturbed;
    this.sumGap += gap;
    this.count += 1;
    if (logs !== undefined) {
      logs.perturbedLoss = perturbed;
      logs.surrogateGap = gap;
    }
  }

  /** Puts the epoch's mean `perturbedLoss` and `surrogateGap` into the epoch's logs. */
  override async onEpochEnd(_epoch: number, logs?: Logs): Promise<void> {
    if (logs === undefined || this.count === 0) return;
    logs.perturbedLoss = this.sumPerturbed / this.count;
    logs.surrogateGap = this.sumGap / this.count;
  }
}
