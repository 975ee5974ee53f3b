/**
 * What `compare` and `reproduce` share: run many specs in parallel with live progress, write the
 * summary files, and build the HTML report.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { threadsPerJob } from '../experiments/executor.js';
import type { RunRecord, RunSpec } from '../experiments/schema.js';
import { summarize, type MethodSummary } from '../experiments/summary.js';
import { formatMarkdownTable, toCsv, toJson } from '../report/tables.js';
import { EXIT_INTERRUPTED } from './errors.js';
import type { AnalyzeOptions } from '../analysis/index.js';
import { createProgressView } from './progress.js';
import { plannedBackendLine } from './backend-line.js';

/** Options for {@link runBatch}. */
export interface BatchOptions {
  resultsDir: string;
  jobs: number;
  backend?: 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'native';
  threads?: number;
}

export { threadsPerJob } from '../experiments/executor.js';

/** Runs `specs` with the worker pool (complete runs in `resultsDir` are skipped), showing progress. */
export async function runBatch(specs: RunSpec[], opts: BatchOptions): Promise<RunRecord[]> {
  const { runMany } = await import('../experiments/pool.js');
  const backend = opts.backend ?? 'auto';
  const threads =
    opts.threads ??
    (backend === 'auto' || backend === 'wasm' || backend === 'native' ? threadsPerJob(Math.min(opts.jobs, specs.length)) : undefined);
  process.stderr.write(`  ${plannedBackendLine(backend, threads ?? null)}\n`);
  const view = createProgressView({ lineEveryMs: 30_000 });
  // Ctrl-C reaches the worker processes too (same process group); their checkpoints stay. A worker
  // whose parent is gone some other way (killed alone) stops too, on its IPC 'disconnect'.
  const onSigint = (): void => {
    view.stop();
    process.stderr.write('\ninterrupted; run the same command again to resume from the last checkpoints\n');
    process.exit(EXIT_INTERRUPTED);
  };
  process.once('SIGINT', onSigint);
  try {
    return await runMany(specs, {
      resultsDir: opts.resultsDir,
      jobs: opts.jobs,
      onProgress: (p) => {
        view.update(p);
        if (p.epoch === p.epochs && p.step >= p.stepsPerEpoch) view.finish(p.runId);
      },
      backend,
      ...(threads !== undefined ? { threads } : {}),
    });
  } finally {
    process.off('SIGINT', onSigint);
    view.stop();
  }
}

/** The files {@link writeSummaries} writes. */
export interface SummaryFiles {
  markdown: string;
  csv: string;
  json: string;
}

/** Writes summary.md, summary.csv and summary.json for `summary` into `dir`. */
export function writeSummaries(dir: string, summary: MethodSummary[]): SummaryFiles {
  mkdirSync(dir, { recursive: true });
  const files = { markdown: join(dir, 'summary.md'), csv: join(dir, 'summary.csv'), json: join(dir, 'summary.json') };
  writeFileSync(files.markdown, formatMarkdownTable(summary));
  writeFileSync(files.csv, toCsv(summary));
  writeFileSync(files.json, toJson(summary));
  return files;
}

/** Summarises records and names the runs that diverged or failed (they stay in the table). */
export function summarizeWithNotes(records: RunRecord[]): { summary: MethodSummary[]; notes: string[]; failed: number } {
  const summary = summarize(records);
  const notes: string[] = [];
  let failed = 0;
  for (const r of records) {
    if (r.status === 'diverged') notes.push(`diverged: ${r.runId}${r.divergence ? ` (${r.divergence.message})` : ''}`);
    else if (r.status === 'running' && r.error !== undefined) {
      failed++;
      notes.push(`FAILED: ${r.runId}: ${r.error}`);
    } else if (r.status === 'running') notes.push(`unfinished: ${r.runId} (re-run the same command to resume it)`);
  }
  return { summary, notes, failed };
}

/**
 * Builds the HTML report of `resultsDir` and returns its path; a failure is reported as a warning
 * (the summaries are already written), not thrown.
 */
export async function buildReport(resultsDir: string, analysis?: AnalyzeOptions): Promise<{ htmlPath: string } | { error: string }> {
  try {
    const { writeReport } = await import('../report/index.js');
    const { htmlPath } = await writeReport(resultsDir, analysis !== undefined ? { analysis } : {});
    return { htmlPath };
  } catch (err) {
    return { error: (err as Error).message };
  }
}
