/**
 * flatminima/node: the Node-only half of the public API: backend selection (tfjs-node, wasm with
 * training kernels, cpu), dataset files (embedded MNIST, IDX), experiment runs with checkpoints, the
 * analysis of results (selection on validation, paired tests, sensitivity, convergence) and the
 * HTML/PNG report. Re-exports the browser-safe API too, so one import serves a Node program.
 */
export * from './index.js';
export { initBackend, registerWasmTrainingKernels, type BackendInfo, type BackendName, type InitBackendOptions } from './backend/index.js';
export { loadEmbeddedMnist, readIdxFile, writeIdxFile, loadIdxDataset, FASHION_MNIST_CLASSES, DIGIT_CLASSES } from './data/index.js';
export { runSpec, runId, type Progress, type RunOptions } from './experiments/runner.js';
export { DirectoryCheckpointStore, type CheckpointStore, type StoredCheckpoint } from './experiments/checkpointStore.js';
export type { CheckpointData, NamedArray } from './experiments/checkpoint.js';
export { runMany } from './experiments/pool.js';
export { LocalPoolExecutor } from './experiments/localExecutor.js';
export { resolveExecution, type Executor, type ExecutorEvent, type ExecuteOptions, type ExecutionOptions } from './experiments/executor.js';
export { QueueExecutor, type QueueExecutorOptions, type SubmitSummary, type CollectResult } from './experiments/queue/queueExecutor.js';
export { QueueWorker, type QueueWorkerOptions } from './experiments/queue/queueWorker.js';
export { RedisCheckpointStore } from './experiments/queue/redisCheckpointStore.js';
export { parseRedisUrl, REDIS_URL_ENV, type RedisTarget, type RedisSettings } from './experiments/queue/connection.js';
export { weightsSha256 } from './experiments/weightsHash.js';
export { readRecords } from './experiments/store.js';
export { loadModel, saveModel } from './experiments/modelStore.js';
export { measureSavedModel, type SavedModelMeasureOptions, type SavedModelMeasurement } from './experiments/measureModel.js';
export {
  RunSpecSchema,
  RunRecordSchema,
  type RunSpec,
  type RunRecord,
  type EpochRecord,
  type SharpnessRecord,
} from './experiments/schema.js';
export { writeReport } from './report/index.js';
export {
  analyzeRecords,
  writeAnalysis,
  formatAnalysisMarkdown,
  analysisToCsv,
  analysisToJson,
  selectPoints,
  collectPoints,
  comparePoints,
  sensitivity,
  convergence,
  pointId,
  estimateMean,
  pairedTTest,
  wilcoxonSignedRank,
  holm,
  bootstrapInterval,
  type Analysis,
  type AnalysisGroup,
  type AnalyzeOptions,
  type AnalysisFiles,
  type MetricName,
  type PointSummary,
  type Selection,
  type Comparison,
  type MethodSensitivity,
  type Convergence,
  type MeanEstimate,
  type PairedTTest,
  type WilcoxonTest,
} from './analysis/index.js';
