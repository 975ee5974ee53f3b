/**
 * `flatminima sweep <file>` (or the same sweep given by flags): expands a grid and/or random search
 * over spec fields, per method, times seeds; runs what is not finished yet on an executor; then
 * analyses the records (selection on validation, confidence intervals, sensitivity, paired tests,
 * convergence) and writes the tables and the HTML report with the sensitivity plots.
 *
 * Every run is named by the hash of its spec, so running the same sweep again runs nothing, an
 * interrupted one resumes, and a sweep that gains points runs only the new ones.
 */
import { availableParallelism } from 'node:os';
import { basename, extname, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { EXIT_FAILURE, EXIT_INTERRUPTED, UsageError } from '../errors.js';
import { nonNegativeInt, openUnitInterval, positiveInt, threadCount } from '../parsers.js';
import { BACKENDS, checkBackendFlags } from '../specs.js';
import { describeSpec } from '../format.js';
import { SweepProgress } from '../sweepProgress.js';
import { addQueueOptions, queueExecutorFrom, submitOrCollect, type QueueFlags } from '../queueRun.js';
import { ValidationError } from '../../experiments/validate.js';
import type { ExpandedSweep } from '../../experiments/sweep/expand.js';
import type { Executor } from '../../experiments/executor.js';
import type { RunRecord } from '../../experiments/schema.js';

interface SweepFlags extends QueueFlags {
  results?: string;
  set?: string[];
  grid?: string[];
  random?: string[];
  randomN?: number;
  randomSeed?: number;
  seeds?: string;
  selectBy?: string;
  validationFraction?: number;
  select: boolean;
  jobs?: number;
  threads?: number;
  backend?: (typeof BACKENDS)[number];
  checkpointEvery?: number;
  dryRun?: boolean;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** A flag value as JSON where it parses (numbers, booleans, quoted strings), else the plain string. */
function flagValue(text: string): string | number | boolean {
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  } catch {
    // not JSON: a bare word such as gsam
  }
  return text;
}

/** Splits `path=rest` of a repeatable flag; a usage error names the flag when the form is wrong. */
function splitAssignment(flag: string, text: string): [string, string] {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1)
    throw new UsageError(`${flag} ${text}: expected <spec.path>=<value>, e.g. ${flag} optimizer.rho=0.05`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** `--random path=loguniform:0.01:2` | `uniform:0:1` | `choice:a,b,c` as a distribution object. */
function randomParam(text: string): [string, unknown] {
  const [path, rest] = splitAssignment('--random', text);
  const [dist, ...args] = rest.split(':');
  if (dist === 'choice') return [path, { dist, values: args.join(':').split(',').map(flagValue) }];
  if (args.length !== 2) throw new UsageError(`--random ${text}: expected ${path}=${dist}:<low>:<high> (or choice:<v1>,<v2>,...)`);
  return [path, { dist, low: flagValue(args[0]), high: flagValue(args[1]) }];
}

/** `--seeds 5` (seeds 0..4) or `--seeds 0,3,7`. */
function parseSeeds(text: string): number | number[] {
  const parts = text.split(',').map((s) => s.trim());
  const nums = parts.map(Number);
  if (parts.some((p) => p === '') || nums.some((n) => !Number.isInteger(n) || n < 0)) {
    throw new UsageError(`--seeds ${text}: expected a count (e.g. 5 for seeds 0-4) or a comma-separated list of seeds >= 0`);
  }
  if (parts.length === 1) {
    if (nums[0] < 1) throw new UsageError(`--seeds ${text}: a count must be >= 1`);
    return nums[0];
  }
  return nums;
}

/** The sweep file's object built from flags (no file given). */
function sweepFromFlags(flags: SweepFlags): Record<string, unknown> {
  const base: Record<string, unknown> = {};
  for (const text of flags.set ?? []) {
    const [path, value] = splitAssignment('--set', text);
    const keys = path.split('.');
    let node = base;
    for (const k of keys.slice(0, -1)) node = (node[k] ??= {}) as Record<string, unknown>;
    node[keys[keys.length - 1]] = flagValue(value);
  }
  const sweep: Record<string, unknown> = { base, seeds: parseSeeds(flags.seeds ?? '3') };
  if (flags.grid?.length) {
    sweep.grid = Object.fromEntries(
      flags.grid.map((text) => {
        const [path, values] = splitAssignment('--grid', text);
        return [path, values.split(',').map(flagValue)];
      }),
    );
  }
  if (flags.random?.length) {
    sweep.random = { n: flags.randomN ?? 10, seed: flags.randomSeed ?? 0, params: Object.fromEntries(flags.random.map(randomParam)) };
  } else if (flags.randomN !== undefined || flags.randomSeed !== undefined) {
    throw new UsageError('--random-n and --random-seed need at least one --random <path>=<dist>:...');
  }
  return sweep;
}

/** Applies --seeds / --select-by / --validation-fraction / --no-select to a sweep object. */
function withSelectionFlags(sweep: Record<string, unknown>, flags: SweepFlags): Record<string, unknown> {
  const out = { ...sweep };
  if (!flags.select) {
    if (flags.selectBy !== undefined || flags.validationFraction !== undefined) {
      throw new UsageError('--no-select cannot be combined with --select-by or --validation-fraction');
    }
    out.select = false;
    return out;
  }
  if (flags.selectBy !== undefined || flags.validationFraction !== undefined) {
    const prev = out.select !== null && typeof out.select === 'object' ? (out.select as Record<string, unknown>) : {};
    out.select = {
      ...prev,
      ...(flags.selectBy !== undefined ? { metric: flags.selectBy } : {}),
      ...(flags.validationFraction !== undefined ? { validationFraction: flags.validationFraction } : {}),
    };
  }
  return out;
}

/** Reads the sweep (file or flags) and expands it, mapping every problem to a usage error. */
async function loadSweep(file: string | undefined, flags: SweepFlags): Promise<{ sweep: ExpandedSweep; label: string }> {
  const { expandSweep } = await import('../../experiments/sweep/expand.js');
  const byFlags = (flags.set?.length ?? 0) + (flags.grid?.length ?? 0) + (flags.random?.length ?? 0) > 0;
  try {
    if (file !== undefined) {
      if (byFlags) throw new UsageError('give the sweep in the file or by --set/--grid/--random flags, not both');
      const { readSweepFile } = await import('../../experiments/sweep/file.js');
      let sweep = readSweepFile(file);
      if (flags.seeds !== undefined || !flags.select || flags.selectBy !== undefined || flags.validationFraction !== undefined) {
        // Re-expand the file's object with the flags applied on top.
        const { readFileSync } = await import('node:fs');
        const { parse } = await import('yaml');
        const text = readFileSync(file, 'utf8');
        const raw = (/\.ya?ml$/i.test(file) ? parse(text) : JSON.parse(text)) as Record<string, unknown>;
        const seeded = flags.seeds !== undefined ? { ...raw, seeds: parseSeeds(flags.seeds) } : raw;
        sweep = expandSweep(withSelectionFlags(seeded, flags), `sweep file ${file} with the flags`);
      }
      return { sweep, label: basename(file, extname(file)) };
    }
    if (!byFlags) throw new UsageError('give a sweep file (flatminima sweep <file>) or the sweep by flags (--grid <path>=<v1>,<v2> ...)');
    return { sweep: expandSweep(withSelectionFlags(sweepFromFlags(flags), flags), 'the sweep flags'), label: 'sweep' };
  } catch (err) {
    if (err instanceof ValidationError) throw new UsageError(err.issues.map((i) => `${file !== undefined ? `${file}: ` : ''}${i}`));
    throw err;
  }
}

/** The plan: points, runs, seeds, what is already done. */
function describePlan(sweep: ExpandedSweep, label: string, resultsDir: string, executor: Executor): string {
  const methods = [...new Set(sweep.runs.map((r) => r.method))];
  const lines = [
    `sweep ${sweep.name ?? label}: ${sweep.points} points x ${sweep.seeds.length} seeds (${sweep.seeds.join(',')}) = ${sweep.runs.length} runs; methods ${methods.join(', ')}`,
    sweep.select
      ? `  selection: best point per method by mean ${sweep.select.metric} over seeds, on a ${sweep.select.validationFraction * 100}% validation split of the training part (never the test set)`
      : '  selection: none (--no-select / "select": false): plain train/test splits',
    `  e.g. ${describeSpec(sweep.runs[0].spec)}`,
    `  results ${resultsDir}; ${executor.description}`,
  ];
  return lines.join('\n') + '\n';
}

/** Registers `sweep` on the program. */
export function registerSweep(program: Command): void {
  const cmd = program
    .command('sweep')
    .description('run a grid and/or random search over spec fields x seeds (resumable), then select on validation and analyse')
    .argument('[file]', 'sweep file, JSON or YAML: { "base": {...}, "grid": { "optimizer.rho": [...] }, "seeds": 3 }')
    .option('--results <dir>', 'results directory (default results/<sweep file name>)')
    .option('--set <path=value>', 'without a file: a base setting, e.g. --set dataset.n=2000 (repeatable)', collect)
    .option('--grid <path=v1,v2>', 'without a file: a grid field, e.g. --grid optimizer.rho=0.02,0.05 (repeatable)', collect)
    .option(
      '--random <path=dist:a:b>',
      'without a file: a random-search field, loguniform:<low>:<high>, uniform:<low>:<high> or choice:<v1>,<v2> (repeatable)',
      collect,
    )
    .option('--random-n <count>', 'random-search points (default 10)', positiveInt)
    .option('--random-seed <seed>', 'seed of the random search (default 0)', nonNegativeInt)
    .option('--seeds <n|list>', 'seeds per point: a count (seeds 0..n-1) or a list (default 3; overrides the file)')
    .option('--select-by <metric>', 'metric the best point per method is chosen by (default validationAccuracy; never a test metric)')
    .option('--validation-fraction <f>', 'share of the training part held out for validation (default 0.1)', openUnitInterval)
    .option('--no-select', 'no validation split and no selection')
    .option('--jobs <count>', `parallel runs (default: number of cores, here ${availableParallelism()})`, positiveInt)
    .option('--threads <count>', 'wasm (or native kernel) threads per run (1-8)', threadCount)
    .addOption(new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKENDS))
    .option('--checkpoint-every <epochs>', 'write a checkpoint every this many epochs (default 1)', positiveInt)
    .option('--dry-run', 'print the runs the sweep would do and exit')
    .action(async (file: string | undefined, flags: SweepFlags) => {
      const { sweep, label } = await loadSweep(file, flags);
      const resultsDir = resolve(flags.results ?? `results/${label}`);
      const { LocalPoolExecutor } = await import('../../experiments/localExecutor.js');
      const queue = await queueExecutorFrom(flags, {
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        ...(flags.checkpointEvery !== undefined ? { checkpointEvery: flags.checkpointEvery } : {}),
      });
      // --backend native on the local pool needs the addon here (a queue's runs need it on the workers).
      if (queue === null) checkBackendFlags({ backend: flags.backend });
      let executor: Executor;
      try {
        executor =
          queue ??
          new LocalPoolExecutor({
            ...(flags.jobs !== undefined ? { jobs: flags.jobs } : {}),
            ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
            ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
            ...(flags.checkpointEvery !== undefined ? { checkpointEvery: flags.checkpointEvery } : {}),
          });
      } catch (err) {
        if (err instanceof RangeError)
          throw new UsageError(
            err.message.replace(
              /^(jobs|threads|backend|checkpointEvery)\b/,
              (k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`,
            ),
          );
        throw err;
      }
      process.stderr.write(describePlan(sweep, label, resultsDir, executor));
      if (flags.dryRun) {
        for (const r of sweep.runs)
          process.stdout.write(
            `${r.runId}\t${Object.entries(r.params)
              .map(([k, v]) => `${k}=${v}`)
              .join(' ')}\tseed ${r.seed}\n`,
          );
        await executor.close();
        return;
      }
      const mode = flags.detach ? 'detach' : flags.collect ? 'collect' : null;
      const records =
        queue !== null && mode !== null
          ? await submitOrCollect(
              queue,
              mode,
              sweep.runs.map((r) => r.spec),
              resultsDir,
            )
          : await runWithProgress(executor, sweep, resultsDir);
      if (records !== null) await finishSweep(records, sweep, resultsDir);
    });
  addQueueOptions(cmd);
}

/** Runs the sweep's specs on the executor with the sweep-wide progress bar; Ctrl-C keeps the checkpoints. */
async function runWithProgress(executor: Executor, sweep: ExpandedSweep, resultsDir: string): Promise<RunRecord[]> {
  const progress = new SweepProgress(sweep.runs.length);
  const onSigint = (): void => {
    progress.stop();
    process.stderr.write(
      `\ninterrupted; ${executor.interruptNote ?? 'run the same command again to resume the sweep from the last checkpoints'}\n`,
    );
    process.exit(EXIT_INTERRUPTED);
  };
  process.once('SIGINT', onSigint);
  try {
    return await executor.run(
      sweep.runs.map((r) => r.spec),
      { resultsDir, onEvent: (e) => progress.handle(e) },
    );
  } finally {
    process.off('SIGINT', onSigint);
    progress.stop();
    await executor.close();
  }
}

/**
 * Analysis, tables and report of a finished (or partly failed) sweep: with selection, the analysis
 * of the sweep's own records (selected point per method on validation with its test accuracy,
 * paired tests, sensitivity, convergence) printed and written as analysis.md/.csv/.json, and the
 * report with its sensitivity plots; without, the per-point table only.
 */
export async function finishSweep(records: RunRecord[], sweep: ExpandedSweep, resultsDir: string): Promise<void> {
  const { summarizeWithNotes, buildReport, writeSummaries } = await import('../batch.js');
  const { summary, notes, failed } = summarizeWithNotes(records);
  if (sweep.select !== null) {
    const { analyzeRecords, formatAnalysisMarkdown, writeAnalysis } = await import('../../analysis/index.js');
    const analysis = analyzeRecords(records, { selectBy: sweep.select.metric });
    process.stdout.write(`\n${formatAnalysisMarkdown(analysis)}`);
    const files = writeAnalysis(resultsDir, analysis);
    process.stdout.write(`analysis: ${files.markdown}, ${files.csv}, ${files.json}\n`);
  } else {
    const { sweepPointTable } = await import('../sweepTable.js');
    process.stdout.write(`\n${sweepPointTable(records, sweep)}`);
  }
  // Every point's final metrics and sharpness (sigma_max, trace, gap), mean ± std, as `compare` writes them.
  const { formatMarkdownTable } = await import('../../report/tables.js');
  process.stdout.write(`\n${formatMarkdownTable(summary)}`);
  const summaries = writeSummaries(resultsDir, summary);
  process.stdout.write(`summary: ${summaries.markdown}, ${summaries.csv}, ${summaries.json}\n`);
  for (const n of notes) process.stdout.write(`${n}\n`);
  if (failed > 0) process.exitCode = EXIT_FAILURE;
  const report = await buildReport(resultsDir, sweep.select !== null ? { selectBy: sweep.select.metric } : undefined);
  if ('htmlPath' in report) process.stdout.write(`report: ${report.htmlPath}\n`);
  else process.stderr.write(`warning: the HTML report could not be written: ${report.error}\n`);
}
