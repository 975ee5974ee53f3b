/**
 * The analysis of a results directory's run records: statistics per point over seeds, model
 * selection on validation, paired comparisons, sensitivity to hyper-parameters and convergence,
 * with Markdown, CSV and JSON writers. Imports only the experiment layer's types and tables; the
 * report and the CLI build on it.
 */
export {
  analyzeRecords,
  resolveAnalyzeOptions,
  type Analysis,
  type AnalysisGroup,
  type AnalyzeOptions,
  type ResolvedAnalyzeOptions,
  type RunCounts,
} from './analyze.js';
export {
  DEFAULT_LEVEL,
  bootstrapInterval,
  estimateMean,
  holm,
  mean,
  pairedTTest,
  sampleStd,
  tCritical,
  wilcoxonSignedRank,
  type BootstrapInterval,
  type BootstrapOptions,
  type Interval,
  type MeanEstimate,
  type PairedTTest,
  type WilcoxonTest,
} from './stats.js';
export {
  METRICS,
  canonicalJson,
  checkMetric,
  collectPoints,
  finalMetric,
  isTestMetric,
  isValidationMetric,
  metricGoal,
  pointId,
  pointSpec,
  readPath,
  splitByDataset,
  type MethodPoints,
  type MetricName,
  type ParamValue,
  type PointSpec,
  type PointSummary,
  type SeedValue,
} from './points.js';
export {
  DEFAULT_SELECT_BY,
  checkSelectionMetric,
  selectPoints,
  type SelectedPoint,
  type Selection,
  type SelectionOptions,
} from './selection.js';
export {
  ALPHA_PATH,
  DEFAULT_WITHIN,
  RHO_PATH,
  sensitivity,
  type GridCell,
  type MethodSensitivity,
  type MetricSensitivity,
  type RhoCurvePoint,
  type SensitivityOptions,
  type SensitivitySummary,
} from './sensitivity.js';
export {
  DEFAULT_COMPARE_METRIC,
  checkPairs,
  comparePoints,
  type Comparison,
  type ComparisonOptions,
  type ComparisonSet,
} from './comparisons.js';
export {
  DEFAULT_TARGET_FRACTION,
  checkTargetFraction,
  convergence,
  timeToTarget,
  type Convergence,
  type ConvergenceOptions,
  type CurvePoint,
  type MethodConvergence,
  type RunConvergence,
} from './convergence.js';
export {
  CSV_COLUMNS,
  comparisonTable,
  convergenceTable,
  markdownTable,
  pointsTable,
  selectionTable,
  sensitivityTable,
  type TableData,
  analysisToCsv,
  analysisToJson,
  formatAnalysisMarkdown,
  formatComparisonTable,
  formatConvergenceTable,
  formatEstimate,
  formatMetricValue,
  formatP,
  formatPointsTable,
  formatSelectionTable,
  formatSensitivityTable,
  methodName,
  metricWords,
} from './format.js';
export { writeAnalysis, type AnalysisFiles } from './write.js';
export {
  formatVerdictTable,
  judgeClaims,
  verdictToCsv,
  type ClaimVerdict,
  type ExperimentAnalyses,
  type VerdictOptions,
  type VerdictWord,
} from './verdict.js';
