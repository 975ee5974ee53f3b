/**
 * `flatminima analyze <dir>`: the statistics of a results directory from its run records alone:
 * selected point per method (on validation), paired tests between the selected points, sensitivity
 * over each method's grid and convergence. Prints the tables (or the JSON), writes
 * analysis.md/.csv/.json into the directory and rebuilds report.html with the same options (unless
 * `--no-report`).
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { nonNegativeNumber } from '../parsers.js';
import { METRICS, isTestMetric, type MetricName } from '../../experiments/metrics.js';
import type { AnalyzeOptions } from '../../analysis/index.js';

interface AnalyzeFlags {
  selectBy?: MetricName;
  pairs?: Array<[string, string]>;
  target?: number;
  targetOf?: string;
  targetAccuracy?: number;
  within?: number;
  allowDiverged?: boolean;
  json?: boolean;
  /** false with --no-report. */
  report?: boolean;
}

const SELECTABLE = METRICS.filter((m) => !isTestMetric(m));

/** `--select-by`: a validation or training metric; a test metric gets its own message. */
function selectionMetric(value: string): MetricName {
  if ((METRICS as readonly string[]).includes(value) && isTestMetric(value as MetricName)) {
    throw new InvalidArgumentError(`Model selection never looks at the test set. Expected one of: ${SELECTABLE.join(', ')}.`);
  }
  if (!(SELECTABLE as readonly string[]).includes(value)) throw new InvalidArgumentError(`Expected one of: ${SELECTABLE.join(', ')}.`);
  return value as MetricName;
}

/** `--pairs a:b,c:d`: pairs of two different method names, none repeated. */
function methodPairs(value: string): Array<[string, string]> {
  const items = value.split(',').map((s) => s.trim());
  const seen = new Set<string>();
  return items.map((item) => {
    const parts = item.split(':');
    if (parts.length !== 2 || parts.some((p) => !/^[a-z][a-z0-9_-]*$/i.test(p))) {
      throw new InvalidArgumentError(`'${item}' is not a pair. Expected comma-separated method pairs a:b, e.g. agsam:gsam,agsam:sam.`);
    }
    const [a, b] = parts as [string, string];
    if (a === b) throw new InvalidArgumentError(`'${item}' compares a method with itself.`);
    const key = [a, b].sort().join(':');
    if (seen.has(key)) throw new InvalidArgumentError(`'${item}' is listed twice.`);
    seen.add(key);
    return [a, b];
  });
}

/** `--target`: a fraction in (0, 1]. */
function targetFraction(value: string): number {
  const n = Number(value);
  if (value.trim() !== value || value === '' || !Number.isFinite(n) || !(n > 0 && n <= 1)) {
    throw new InvalidArgumentError('Expected a fraction greater than 0 and at most 1, e.g. 0.99.');
  }
  return n;
}

/** `--within`: accuracy points in [0, 100]. */
function accuracyPoints(value: string): number {
  const n = nonNegativeNumber(value);
  if (n > 100) throw new InvalidArgumentError('Expected accuracy points between 0 and 100, e.g. 0.5.');
  return n;
}

/** Registers `analyze` on the program. */
export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('selection on validation, paired tests, sensitivity and convergence of a results directory')
    .argument('<dir>', 'a results directory of <runId>/record.json run folders')
    .option(
      '--select-by <metric>',
      `metric that chooses each method's point (default validationAccuracy; one of ${SELECTABLE.join(', ')})`,
      selectionMetric,
    )
    .option('--pairs <list>', 'comparisons to make, a:b meaning a - b, comma-separated (default: every pair of methods)', methodPairs)
    .option(
      '--target <fraction>',
      "convergence target: this fraction of the reference method's final mean validation accuracy (--target-of; default the best method; 0.99)",
      targetFraction,
    )
    .option(
      '--target-of <method>',
      "convergence target's reference: this method's final mean validation accuracy (default: the best method's), e.g. --target-of sam --target 1",
    )
    .option(
      '--target-accuracy <fraction>',
      'convergence target as a validation accuracy, e.g. 0.9138 (instead of --target and --target-of)',
      targetFraction,
    )
    .option('--within <points>', 'sensitivity: a point is near the best within this many accuracy points (default 0.5)', accuracyPoints)
    .option('--allow-diverged', 'let points with diverged runs be selected (default: they are not candidates)')
    .option('--json', 'print the analysis as JSON instead of the tables')
    .option('--no-report', 'do not rebuild report.html (the analysis files are still written)')
    .action(async (dirArg: string, flags: AnalyzeFlags) => {
      const dir = resolve(dirArg);
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`<dir> ${dirArg}: no such directory`);
      const { readRecords } = await import('../../experiments/store.js');
      const records = readRecords(dir);
      if (records.length === 0) throw new UsageError(`<dir> ${dirArg}: holds no <runId>/record.json`);
      const methods = [...new Set(records.map((r) => r.spec.optimizer.name))].sort();
      const absent = (flags.pairs ?? []).flat().filter((m, i, all) => !methods.includes(m as never) && all.indexOf(m) === i);
      if (absent.length > 0) {
        throw new UsageError(`--pairs names ${absent.join(', ')}, which no run in ${dirArg} has (methods there: ${methods.join(', ')})`);
      }
      if (flags.targetAccuracy !== undefined && (flags.target !== undefined || flags.targetOf !== undefined)) {
        throw new UsageError('--target-accuracy is a target of its own: give it without --target and --target-of');
      }
      if (flags.targetOf !== undefined && !methods.includes(flags.targetOf as never)) {
        throw new UsageError(`--target-of names ${flags.targetOf}, which no run in ${dirArg} has (methods there: ${methods.join(', ')})`);
      }
      const options: AnalyzeOptions = {
        ...(flags.selectBy !== undefined ? { selectBy: flags.selectBy } : {}),
        ...(flags.pairs !== undefined ? { pairs: flags.pairs } : {}),
        ...(flags.target !== undefined ? { target: flags.target } : {}),
        ...(flags.targetOf !== undefined ? { targetOf: flags.targetOf } : {}),
        ...(flags.targetAccuracy !== undefined ? { targetAccuracy: flags.targetAccuracy } : {}),
        ...(flags.within !== undefined ? { within: flags.within / 100 } : {}),
        ...(flags.allowDiverged ? { allowDiverged: true } : {}),
      };
      const { analyzeRecords, analysisToJson, formatAnalysisMarkdown, writeAnalysis } = await import('../../analysis/index.js');
      let analysis;
      try {
        analysis = analyzeRecords(records, options);
      } catch (err) {
        const message = (err as Error).message;
        if (/no validation split/.test(message)) {
          throw new UsageError(`${message.replace(/^analyzeRecords: /, '')}; or pass --select-by trainAccuracy (or trainLoss)`);
        }
        throw err;
      }
      process.stdout.write(flags.json ? analysisToJson(analysis) : formatAnalysisMarkdown(analysis));
      const files = writeAnalysis(dir, analysis);
      const out = flags.json ? process.stderr : process.stdout;
      out.write(`analysis: ${files.markdown}, ${files.csv}, ${files.json}\n`);
      if (flags.report === false) return;
      const { writeReport } = await import('../../report/index.js');
      try {
        const { htmlPath } = await writeReport(dir, { analysis: options });
        out.write(`report: ${htmlPath}\n`);
      } catch (err) {
        process.stderr.write(`warning: the HTML report could not be written: ${(err as Error).message}\n`);
      }
    });
}
