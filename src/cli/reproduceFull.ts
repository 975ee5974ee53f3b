/**
 * `flatminima reproduce --full`: the report's experiments at its settings, with hyper-parameters
 * chosen honestly and a verdict on each of its claims. Per experiment (reproduceProtocol.ts):
 * 1. the selection sweep (rho for SAM/ASAM, rho x alpha for GSAM/Adaptive-GSAM) on a validation split;
 * 2. each method's best point by mean validation accuracy (the test set is never looked at);
 * 3. the confirmation stage: the selected points over more seeds, sharpness measured;
 * 4. the analysis of both stages and the verdict table.
 * Stages live in `<results>/<experiment>/selection` and `.../confirmation`; every run is named by its
 * spec's hash, so the command resumes where it stopped and repeats nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Analysis, AnalysisGroup } from '../analysis/index.js';
import type { ClaimVerdict } from '../analysis/verdict.js';
import type { OptimizerName } from '../experiments/defaults.js';
import type { Executor } from '../experiments/executor.js';
import type { RunRecord } from '../experiments/schema.js';
import type { ExpandedSweep } from '../experiments/sweep/expand.js';
import { METHOD_NAMES } from '../experiments/summary.js';
import { EXIT_FAILURE } from './errors.js';
import { confirmationSweep, FULL_PROTOCOLS, selectionSweep, type FullProtocol } from './reproduceProtocol.js';
import { SweepProgress } from './sweepProgress.js';

/** What `reproduce --full` takes from its flags. */
export interface FullReproduceOptions {
  resultsDir: string;
  executor: Executor;
  methods: readonly OptimizerName[];
  /** Confirmation seeds of every experiment (default: the protocol's, 10 moons, 5 MNIST). */
  seeds?: number;
  /** The report's test accuracies of Adaptive-GSAM and GSAM per experiment. */
  report: Readonly<Record<string, { a: number; b: number } | undefined>>;
  /** The protocols to run (default: the report's, `FULL_PROTOCOLS`); `--protocol` cuts them. */
  protocols?: readonly FullProtocol[];
  /** Test-only shrinking of every protocol (epochs, data size, grid axes, measured examples). */
  shrink?: (p: FullProtocol) => FullProtocol;
}

/** One stage of one experiment, ready to run. */
interface Stage {
  protocol: FullProtocol;
  name: 'selection' | 'confirmation';
  sweep: ExpandedSweep;
  dir: string;
}

/** Runs one stage's sweep with the sweep-wide progress; returns its records in sweep order. */
async function runStage(executor: Executor, stage: Stage): Promise<RunRecord[]> {
  process.stderr.write(
    `\n${stage.protocol.key} ${stage.name}: ${stage.sweep.points} points x ${stage.sweep.seeds.length} seeds = ${stage.sweep.runs.length} runs -> ${stage.dir}\n`,
  );
  const progress = new SweepProgress(stage.sweep.runs.length);
  try {
    return await executor.run(
      stage.sweep.runs.map((r) => r.spec),
      { resultsDir: stage.dir, onEvent: (e) => progress.handle(e) },
    );
  } finally {
    progress.stop();
  }
}

/** The optimizer settings of each method's selected point (the spec's `optimizer` object). */
function selectedOptimizers(group: AnalysisGroup): Partial<Record<OptimizerName, Record<string, unknown>>> {
  const out: Partial<Record<OptimizerName, Record<string, unknown>>> = {};
  for (const s of group.selection) {
    const point = group.methods.find((m) => m.method === s.method)?.points.find((p) => p.id === s.point?.id);
    if (point) out[s.method as OptimizerName] = { ...point.spec.optimizer };
  }
  return out;
}

/** The first group of an analysis (each stage directory holds one experiment). */
function onlyGroup(analysis: Analysis, what: string): AnalysisGroup {
  const g = analysis.groups[0];
  if (g === undefined) throw new Error(`${what}: no records to analyse`);
  return g;
}

/** Expands a stage's sweep object (the protocols are valid by construction; a failure is a bug). */
async function stageOf(
  protocol: FullProtocol,
  name: Stage['name'],
  sweepObject: Record<string, unknown>,
  resultsDir: string,
): Promise<Stage> {
  const { expandSweep } = await import('../experiments/sweep/expand.js');
  return {
    protocol,
    name,
    sweep: expandSweep(sweepObject, `reproduce --full ${protocol.key} ${name}`),
    dir: join(resultsDir, protocol.key, name),
  };
}

/** Everything `reproduce --full` found, per experiment, and the verdict. */
export interface FullReproduceResult {
  experiments: Array<{ key: string; selection: AnalysisGroup; confirmation: AnalysisGroup; records: RunRecord[] }>;
  verdict: ClaimVerdict[];
  failed: number;
}

/**
 * Runs both stages of every protocol (the selection sweeps first, MNIST's before moons' since its
 * runs are the long ones), analyses them and judges the claims.
 */
export async function runFullReproduce(opts: FullReproduceOptions): Promise<FullReproduceResult> {
  const { analyzeRecords, judgeClaims } = await import('../analysis/index.js');
  const protocols = (opts.protocols ?? FULL_PROTOCOLS).map((p) => (opts.shrink ? opts.shrink(p) : p));
  const ordered = [...protocols].sort((a, b) => (a.key === 'mnist' ? -1 : b.key === 'mnist' ? 1 : 0));
  let failed = 0;
  const countFailed = (records: RunRecord[]): void => {
    failed += records.filter((r) => r.status === 'running' && r.error !== undefined).length;
  };

  const selections = new Map<string, AnalysisGroup>();
  for (const p of ordered) {
    const stage = await stageOf(p, 'selection', selectionSweep(p, opts.methods), opts.resultsDir);
    const records = await runStage(opts.executor, stage);
    countFailed(records);
    selections.set(p.key, onlyGroup(analyzeRecords(records, { selectBy: 'validationAccuracy' }), `${p.key} selection`));
  }
  const experiments: FullReproduceResult['experiments'] = [];
  for (const p of ordered) {
    const selection = selections.get(p.key) as AnalysisGroup;
    const stage = await stageOf(
      p,
      'confirmation',
      confirmationSweep(p, selectedOptimizers(selection), opts.seeds ?? p.confirmationSeeds),
      opts.resultsDir,
    );
    const records = await runStage(opts.executor, stage);
    countFailed(records);
    experiments.push({
      key: p.key,
      selection,
      confirmation: onlyGroup(analyzeRecords(records, { selectBy: 'validationAccuracy' }), `${p.key} confirmation`),
      records,
    });
  }
  const byKey = (k: string): number => protocols.findIndex((p) => p.key === k);
  experiments.sort((a, b) => byKey(a.key) - byKey(b.key));
  const verdict = judgeClaims(
    experiments.map((e) => ({
      experiment: e.key,
      selection: e.selection,
      confirmation: e.confirmation,
      ...(opts.report[e.key] ? { reportAccuracy: opts.report[e.key] } : {}),
    })),
    { names: METHOD_NAMES },
  );
  return { experiments, verdict, failed };
}

/** The Markdown of a full reproduction: per experiment the selection and confirmation tables, then the verdict. */
export async function formatFullReproduce(
  result: FullReproduceResult,
  confirmationTable: (key: string, records: RunRecord[]) => string,
): Promise<string> {
  const { formatSelectionTable, formatSensitivityTable, formatComparisonTable, formatConvergenceTable } =
    await import('../analysis/index.js');
  const { formatVerdictTable } = await import('../analysis/verdict.js');
  const parts: string[] = [];
  for (const e of result.experiments) {
    parts.push(
      `## ${e.confirmation.title}`,
      '',
      '### Selection (validation accuracy; the test set is not looked at)',
      '',
      formatSelectionTable(e.selection),
      '### Sensitivity over the selection grids',
      '',
      formatSensitivityTable(e.selection),
      '### The selected points over the confirmation seeds, next to the report',
      '',
      confirmationTable(e.key, e.records),
      '### Paired comparisons (test accuracy at the selected points)',
      '',
      formatComparisonTable(e.confirmation),
      '### Convergence',
      '',
      formatConvergenceTable(e.confirmation),
    );
  }
  parts.push("## Verdict on the report's claims (Adaptive-GSAM against GSAM)", '', formatVerdictTable(result.verdict));
  return parts.join('\n');
}

/** Writes verdict.md/.csv/.json, each stage's analysis files and report, and reproduce.md. */
export async function writeFullReproduce(
  resultsDir: string,
  result: FullReproduceResult,
  markdown: string,
  header: string,
): Promise<string[]> {
  const { analyzeRecords, writeAnalysis } = await import('../analysis/index.js');
  const { verdictToCsv, formatVerdictTable } = await import('../analysis/verdict.js');
  const { readRecords } = await import('../experiments/store.js');
  const { buildReport } = await import('./batch.js');
  const written: string[] = [];
  for (const e of result.experiments) {
    for (const stage of ['selection', 'confirmation'] as const) {
      const dir = join(resultsDir, e.key, stage);
      writeAnalysis(dir, analyzeRecords(readRecords(dir), { selectBy: 'validationAccuracy' }));
      const report = await buildReport(dir, { selectBy: 'validationAccuracy' });
      if ('htmlPath' in report) written.push(report.htmlPath);
      else process.stderr.write(`warning: the HTML report of ${dir} could not be written: ${report.error}\n`);
    }
  }
  const files = {
    md: join(resultsDir, 'verdict.md'),
    csv: join(resultsDir, 'verdict.csv'),
    json: join(resultsDir, 'verdict.json'),
    all: join(resultsDir, 'reproduce.md'),
  };
  writeFileSync(files.md, formatVerdictTable(result.verdict));
  writeFileSync(files.csv, verdictToCsv(result.verdict));
  writeFileSync(files.json, `${JSON.stringify(result.verdict, null, 2)}\n`);
  writeFileSync(files.all, `# flatminima reproduce --full\n\n\`\`\`\n${header}\`\`\`\n\n${markdown}`);
  if (result.failed > 0) process.exitCode = EXIT_FAILURE;
  return [files.all, files.md, files.csv, files.json, ...written];
}
