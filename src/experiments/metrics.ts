/**
 * The final metrics of a run record that the analysis reads, and which of them may choose a model.
 * Kept free of dependencies so that the CLI can validate its flags without loading the statistics.
 */

/** The final metrics of a run record that the analysis reads. */
export const METRICS = ['validationAccuracy', 'validationLoss', 'trainAccuracy', 'trainLoss', 'testAccuracy', 'testLoss'] as const;
/** One of `METRICS`: a final metric of a run record that the analysis reads. */
export type MetricName = (typeof METRICS)[number];

/** Metrics computed on the test set: never used to choose a model. */
export function isTestMetric(metric: MetricName): boolean {
  return metric.startsWith('test');
}

/** Metrics computed on the validation split. */
export function isValidationMetric(metric: MetricName): boolean {
  return metric.startsWith('validation');
}

/** 'min' for losses, 'max' for accuracies: which way is better. */
export function metricGoal(metric: MetricName): 'min' | 'max' {
  return metric.endsWith('Loss') ? 'min' : 'max';
}

/** Checks that `metric` is one of {@link METRICS}. */
export function checkMetric(where: string, name: string, metric: unknown): MetricName {
  if (typeof metric !== 'string') throw new TypeError(`${where}: ${name} must be a metric name string, got ${typeof metric}`);
  if (!(METRICS as readonly string[]).includes(metric)) {
    throw new RangeError(`${where}: ${name} must be one of ${METRICS.join(', ')}, got ${JSON.stringify(metric)}`);
  }
  return metric as MetricName;
}
