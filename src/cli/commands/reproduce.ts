/**
 * `flatminima reproduce`: the report's two experiments (two moons with an MLP, the embedded MNIST
 * digits with a small CNN) for SGD, SAM, ASAM, GSAM and Adaptive-GSAM, ending with the reproduced
 * tables next to the report's numbers. The default is a reduced version that fits in about ten
 * minutes on a 2-core machine; `--full` runs the report's settings. Both live in
 * {@link REPRODUCE_SETTINGS}.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { choiceList, nonNegativeInt, positiveInt, threadCount } from '../parsers.js';
import { EXIT_FAILURE, UsageError } from '../errors.js';
import {
  BACKENDS,
  DATASET_RUN_DEFAULTS,
  DEFAULT_OPTIMIZERS,
  OPTIMIZERS,
  REPORT_OPTIMIZERS,
  RUN_DEFAULTS,
  checkBackendFlags,
  validateSpec,
  type OptimizerName,
} from '../specs.js';
import { buildReport, runBatch, summarizeWithNotes, writeSummaries } from '../batch.js';
import { METHOD_NAMES, type MethodSummary } from '../../experiments/summary.js';
import { formatStat } from '../../report/tables.js';
import type { BaseOptimizerSpec, DatasetSpec, RunRecord, RunSpec } from '../../experiments/schema.js';
import type { Executor } from '../../experiments/executor.js';
import { FULL_PROTOCOLS, type FullProtocol } from '../reproduceProtocol.js';
import { applyProtocolOverrides, describeProtocolCuts, readProtocolOverrides } from '../protocolOverrides.js';

/** The settings of one experiment at one scale. */
export interface ExperimentScale {
  /** Examples used (moons: points generated; mnist: embedded digits used), before the train/test split. */
  n: number;
  epochs: number;
  seeds: number;
  /** Examples the final model's sharpness is measured on (first test examples). */
  measureExamples: number;
}

/** One of the report's experiments. */
export interface Experiment {
  key: 'moons' | 'mnist';
  title: string;
  dataset: Omit<DatasetSpec, 'n'>;
  model: RunSpec['model'];
  batchSize: number;
  base: BaseOptimizerSpec;
  full: ExperimentScale;
  reduced: ExperimentScale;
  /** The report's numbers (test accuracy as a fraction, test loss), single runs; only GSAM and Adaptive-GSAM. */
  report: Partial<Record<OptimizerName, { accuracy: number; loss: number }>>;
}

/**
 * Everything `reproduce` runs. The report gives data, model, epochs and batch size; it does not give
 * the base optimiser or the sharpness hyper-parameters, so each method uses flatminima's defaults
 * (see DEFAULT_OPTIMIZERS) on SGD with momentum 0.9. `full` is the report's budget with 5 seeds;
 * `reduced` (the default) keeps the moons experiment whole with fewer seeds (3) and cuts the MNIST
 * budget, whose CNN steps cost ~100x an MLP step, to 5 of 25 epochs and one seed, with sharpness
 * on fewer examples. Measured: 267 s wall (519 s CPU) on the 2-core development machine, wasm
 * backend, 2 runs x 1 thread, while other work kept its load average at 2-3.
 */
export const REPRODUCE_SETTINGS: {
  optimizers: readonly OptimizerName[];
  experiments: readonly Experiment[];
} = {
  optimizers: REPORT_OPTIMIZERS,
  experiments: [
    {
      key: 'moons',
      title: 'Two moons (MLP 2-32-32-32-2, noise 0.3, batch 64)',
      dataset: { name: 'moons', noise: 0.3, testFraction: 0.2 },
      model: 'mlp',
      batchSize: 64,
      base: {
        name: 'momentum',
        learningRate: DATASET_RUN_DEFAULTS.moons.learningRate,
        momentum: RUN_DEFAULTS.momentum,
        weightDecay: 0,
        schedule: 'constant',
      },
      full: { n: 10000, epochs: 50, seeds: 5, measureExamples: 1000 },
      reduced: { n: 10000, epochs: 50, seeds: 3, measureExamples: 500 },
      report: { gsam: { accuracy: 0.857, loss: 0.33 }, agsam: { accuracy: 0.89, loss: 0.27 } },
    },
    {
      key: 'mnist',
      title: 'MNIST, embedded digits (CNN conv32-pool-conv64-pool-fc128-fc10, batch 64)',
      dataset: { name: 'mnist', testFraction: 0.2 },
      model: 'cnn',
      batchSize: 64,
      base: {
        name: 'momentum',
        learningRate: DATASET_RUN_DEFAULTS.mnist.learningRate,
        momentum: RUN_DEFAULTS.momentum,
        weightDecay: 0,
        schedule: 'constant',
      },
      full: { n: 10000, epochs: 25, seeds: 5, measureExamples: 500 },
      reduced: { n: 10000, epochs: 5, seeds: 1, measureExamples: 128 },
      report: { gsam: { accuracy: 0.953, loss: 0.04 }, agsam: { accuracy: 0.985, loss: 0.01 } },
    },
  ],
};

interface ReproduceFlags {
  full?: boolean;
  seeds?: number;
  jobs?: number;
  results?: string;
  backend?: (typeof BACKENDS)[number];
  threads?: number;
  protocol?: string;
  // Hidden, for tests only: shrink the budget so both experiments run in seconds.
  epochsOverride?: number;
  moonsN?: number;
  mnistN?: number;
  measureOverride?: number;
  optimizersOverride?: OptimizerName[];
  gridOverride?: number;
  selectionSeedsOverride?: number;
}

/** The scale an experiment runs at, after --full / --seeds and the hidden test overrides. */
function scaleFor(exp: Experiment, flags: ReproduceFlags): ExperimentScale {
  const s = { ...(flags.full ? exp.full : exp.reduced) };
  if (flags.seeds !== undefined) s.seeds = flags.seeds;
  if (flags.epochsOverride !== undefined) s.epochs = flags.epochsOverride;
  if (exp.key === 'moons' && flags.moonsN !== undefined) s.n = flags.moonsN;
  if (exp.key === 'mnist' && flags.mnistN !== undefined) s.n = flags.mnistN;
  if (flags.measureOverride !== undefined) s.measureExamples = flags.measureOverride;
  return s;
}

/** The specs of one experiment at a scale, method by method, seeds 0..seeds-1. */
export function experimentSpecs(exp: Experiment, scale: ExperimentScale, optimizers: readonly OptimizerName[]): RunSpec[] {
  const specs: RunSpec[] = [];
  for (const opt of optimizers) {
    for (let seed = 0; seed < scale.seeds; seed++) {
      specs.push(
        validateSpec(
          {
            dataset: { ...exp.dataset, n: scale.n },
            model: exp.model,
            optimizer: { ...DEFAULT_OPTIMIZERS[opt] },
            base: { ...exp.base },
            epochs: scale.epochs,
            batchSize: exp.batchSize,
            seed,
            measureExamples: scale.measureExamples,
          },
          `reproduce ${exp.key} ${opt}`,
        ),
      );
    }
  }
  return specs;
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const seedRange = (seeds: number): string => (seeds === 1 ? 'seed 0' : `seeds 0-${seeds - 1}`);
const sharpnessText = (n: number): string => (n > 0 ? `sharpness on ${n} test examples` : 'no sharpness measured');

/** A line saying how a scale differs from the report's (full) settings. */
function describeScale(exp: Experiment, scale: ExperimentScale): string {
  const diffs: string[] = [];
  const f = exp.full;
  if (scale.n !== f.n) diffs.push(`${scale.n} examples instead of ${f.n}`);
  if (scale.epochs !== f.epochs) diffs.push(`${plural(scale.epochs, 'epoch')} instead of ${f.epochs}`);
  if (scale.seeds !== f.seeds) diffs.push(`${plural(scale.seeds, 'seed')} instead of ${f.seeds}`);
  if (scale.measureExamples !== f.measureExamples) diffs.push(`${sharpnessText(scale.measureExamples)} instead of on ${f.measureExamples}`);
  const what = `${scale.n} examples (80/20 split), ${plural(scale.epochs, 'epoch')}, ${seedRange(scale.seeds)}, ${sharpnessText(scale.measureExamples)}`;
  return diffs.length === 0 ? `${what} (the report's settings)` : `${what}\n    REDUCED from the report's settings: ${diffs.join('; ')}`;
}

/** The reproduced table of one experiment next to the report's numbers (Markdown). */
export function comparisonTable(exp: Experiment, summary: readonly MethodSummary[]): string {
  const header = ['Method', 'Runs', 'Diverged', 'Test acc. (%)', 'Test loss', 'σ_max', 'Report: acc. (%)', 'Report: loss'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const s of summary) {
    const rep = exp.report[s.optimizer as OptimizerName];
    const sigma = s.sigmaMax === null || s.sigmaMax.mean === null ? '—' : formatStat(s.sigmaMax, s.sigmaMax.mean >= 100 ? 0 : 2);
    lines.push(
      `| ${[
        s.label,
        String(s.runs),
        String(s.diverged),
        formatStat(s.testAccuracy, 2, 100),
        formatStat(s.testLoss, 3),
        sigma,
        rep ? (rep.accuracy * 100).toFixed(1) : '—',
        rep ? rep.loss.toFixed(2) : '—',
      ].join(' | ')} |`,
    );
  }
  return lines.join('\n') + '\n';
}

/** Registers `reproduce` on the program. */
export function registerReproduce(program: Command): void {
  program
    .command('reproduce')
    .description("re-run the report's moons and MNIST experiments for SGD, SAM, ASAM, GSAM, Adaptive-GSAM and compare with its numbers")
    .option(
      '--full',
      "the report's full settings (moons 50 epochs, MNIST 25 epochs, 5 seeds; hours on 2 cores); default: a reduced version (under 10 min on 2 cores)",
    )
    .option('--seeds <count>', 'seeds per method (overrides the setting of either scale)', positiveInt)
    .option('--jobs <count>', `parallel runs (default: number of cores, here ${availableParallelism()})`, positiveInt)
    .option('--results <dir>', 'results directory (default results/reproduce, or results/reproduce-full with --full)')
    .addOption(new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKENDS))
    .option('--threads <count>', 'wasm threads per run', threadCount)
    .option(
      '--protocol <file>',
      "with --full: a cut of the report's protocol per experiment (JSON/YAML: epochs, grids, selectionSeeds, confirmationSeeds, measureExamples, or false to skip it); every output names the cut",
    )
    // Test-only budget overrides (hidden from --help): they make the whole command run in seconds.
    .addOption(new Option('--epochs-override <count>', 'TEST ONLY: epochs of every run').argParser(positiveInt).hideHelp())
    .addOption(new Option('--moons-n <count>', 'TEST ONLY: moons points').argParser(positiveInt).hideHelp())
    .addOption(new Option('--mnist-n <count>', 'TEST ONLY: MNIST digits').argParser(positiveInt).hideHelp())
    .addOption(new Option('--measure-override <count>', 'TEST ONLY: sharpness examples (0 = off)').argParser(nonNegativeInt).hideHelp())
    .addOption(new Option('--optimizers-override <list>', 'TEST ONLY: methods run').argParser(choiceList(OPTIMIZERS)).hideHelp())
    .addOption(
      new Option('--grid-override <count>', 'TEST ONLY (--full): the first values of each grid axis').argParser(positiveInt).hideHelp(),
    )
    .addOption(
      new Option('--selection-seeds-override <count>', 'TEST ONLY (--full): seeds of the selection sweeps')
        .argParser(positiveInt)
        .hideHelp(),
    )
    .action(async (flags: ReproduceFlags) => {
      checkBackendFlags(flags);
      if (flags.full) return reproduceFullCommand(flags);
      if (flags.protocol !== undefined) throw new UsageError('--protocol applies to --full only');
      if (flags.gridOverride !== undefined || flags.selectionSeedsOverride !== undefined) {
        throw new UsageError('--grid-override and --selection-seeds-override apply to --full only');
      }
      const started = performance.now();
      const resultsDir = resolve(flags.results ?? (flags.full ? 'results/reproduce-full' : 'results/reproduce'));
      const jobs = flags.jobs ?? availableParallelism();
      const testOverrides = [flags.epochsOverride, flags.moonsN, flags.mnistN, flags.measureOverride, flags.optimizersOverride].some(
        (v) => v !== undefined,
      );
      const optimizers = flags.optimizersOverride ?? REPRODUCE_SETTINGS.optimizers;
      const plan = REPRODUCE_SETTINGS.experiments.map((exp) => ({ exp, scale: scaleFor(exp, flags) }));

      const out: string[] = [];
      out.push(
        `flatminima reproduce: ${flags.full ? "the report's full settings" : "reduced settings (the default; --full for the report's)"}`,
      );
      if (testOverrides)
        out.push(
          '  TEST OVERRIDES ACTIVE (hidden --epochs-override/--moons-n/--mnist-n/--measure-override/--optimizers-override): these numbers say nothing about the report',
        );
      out.push(`  methods: ${optimizers.map((o) => METHOD_NAMES[o] ?? o).join(', ')}`);
      out.push(
        `  settings: ${optimizers
          .filter((o) => o !== 'sgd')
          .map((o) => {
            const { name: _n, ...rest } = DEFAULT_OPTIMIZERS[o];
            return `${METHOD_NAMES[o]} ${Object.entries(rest)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(' ')}`;
          })
          .join('; ')}`,
      );
      for (const { exp, scale } of plan) {
        out.push(
          `  ${exp.title}; base ${exp.base.name} lr ${exp.base.learningRate}${exp.base.momentum !== undefined ? ` momentum ${exp.base.momentum}` : ''}`,
        );
        out.push(`    ${describeScale(exp, scale)}`);
      }
      out.push(`  results ${resultsDir}, ${jobs} runs in parallel`);
      const header = out.join('\n') + '\n';
      process.stdout.write(header);

      // The MNIST runs first: they are the long ones, so the pool packs the short moons runs around them.
      const specsBy = plan.map(({ exp, scale }) => ({ exp, specs: experimentSpecs(exp, scale, optimizers) }));
      const ordered = [...specsBy].sort((a, b) => (a.exp.key === 'mnist' ? -1 : b.exp.key === 'mnist' ? 1 : 0)).flatMap((e) => e.specs);
      const { runId } = await import('../../experiments/runner.js');
      const records = await runBatch(ordered, {
        resultsDir,
        jobs,
        ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
        ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
      });

      const sections: string[] = [];
      const allNotes: string[] = [];
      for (const { exp, specs } of specsBy) {
        const ids = new Set(specs.map((s) => runId(s)));
        const mine = records.filter((r) => ids.has(r.runId));
        const { summary, notes } = summarizeWithNotes(mine);
        allNotes.push(...notes);
        const scale = plan.find((p) => p.exp === exp)!.scale;
        sections.push(
          `## ${exp.title}\n${plural(scale.epochs, 'epoch')}, ${scale.n} examples, ${plural(scale.seeds, 'seed')} per method; ` +
            `mean ± sample std over seeds; the report's numbers are single runs (it has none for SGD, SAM, ASAM).\n\n` +
            comparisonTable(exp, summary),
        );
      }
      const wall = (performance.now() - started) / 1000;
      const body = `${sections.join('\n')}${allNotes.map((n) => `${n}\n`).join('')}\nwall time ${wall.toFixed(0)} s\n`;
      process.stdout.write(`\n${body}`);

      const { summary, failed } = summarizeWithNotes(records);
      if (failed > 0) process.exitCode = EXIT_FAILURE;
      const files = writeSummaries(resultsDir, summary);
      const reproducePath = join(resultsDir, 'reproduce.md');
      writeFileSync(reproducePath, `# flatminima reproduce\n\n\`\`\`\n${header}\`\`\`\n\n${body}`);
      process.stdout.write(`summaries: ${reproducePath}, ${files.markdown}, ${files.csv}, ${files.json}\n`);
      const report = await buildReport(resultsDir);
      if ('htmlPath' in report) process.stdout.write(`report: ${report.htmlPath}\n`);
      else process.stderr.write(`warning: the HTML report could not be written: ${report.error}\n`);
    });
}

/** The test overrides as a shrinking of the --full protocols (none: the report's settings). */
function shrinkProtocol(flags: ReproduceFlags): ((p: FullProtocol) => FullProtocol) | undefined {
  const { epochsOverride, moonsN, mnistN, measureOverride, gridOverride, selectionSeedsOverride } = flags;
  if ([epochsOverride, moonsN, mnistN, measureOverride, gridOverride, selectionSeedsOverride].every((v) => v === undefined))
    return undefined;
  return (p) => {
    const n = p.key === 'moons' ? moonsN : mnistN;
    const dataset = { ...(p.base.dataset as Record<string, unknown>), ...(n !== undefined ? { n } : {}) };
    const grids = Object.fromEntries(
      Object.entries(p.grids).map(([m, g]) => [
        m,
        Object.fromEntries(Object.entries(g).map(([path, v]) => [path, gridOverride !== undefined ? v.slice(0, gridOverride) : v])),
      ]),
    ) as FullProtocol['grids'];
    return {
      ...p,
      base: { ...p.base, dataset, ...(epochsOverride !== undefined ? { epochs: epochsOverride } : {}) },
      grids,
      selectionSeeds: selectionSeedsOverride !== undefined ? Array.from({ length: selectionSeedsOverride }, (_, i) => i) : p.selectionSeeds,
      measureExamples: measureOverride ?? p.measureExamples,
    };
  };
}

/** The header of --full: what runs, stage by stage. */
function describeFull(
  flags: ReproduceFlags,
  protocols: readonly FullProtocol[],
  methods: readonly OptimizerName[],
  resultsDir: string,
  executor: Executor,
): string {
  const shrink = shrinkProtocol(flags);
  const cuts = describeProtocolCuts(protocols);
  const lines = [
    "flatminima reproduce --full: the report's settings, hyper-parameters selected on validation, a verdict on each claim",
    ...(shrink || flags.optimizersOverride
      ? ['  TEST OVERRIDES ACTIVE (hidden --*-override flags): these numbers say nothing about the report']
      : []),
    ...(cuts.length > 0 ? [`  CUT BY --protocol ${flags.protocol ?? ''}:`, ...cuts.map((c) => `    ${c}`)] : []),
  ];
  for (const p0 of protocols) {
    const p = shrink ? shrink(p0) : p0;
    const b = p.base as { dataset: Record<string, unknown>; epochs: number; batchSize: number; base: Record<string, unknown> };
    lines.push(
      `  ${p.key}: ${Object.entries(b.dataset)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ')}; ${b.epochs} epochs, batch ${b.batchSize}; base ${Object.values(b.base).join(' ')}`,
    );
    lines.push(
      `    selection on a ${p.validationFraction * 100}% validation split, seeds ${p.selectionSeeds.join(',')}: ${methods
        .map(
          (m) =>
            `${METHOD_NAMES[m] ?? m} ${
              Object.entries(p.grids[m] ?? {})
                .map(([k, v]) => `${k.replace('optimizer.', '')} {${v.join(', ')}}`)
                .join(' x ') || '(defaults)'
            }`,
        )
        .join('; ')}`,
    );
    lines.push(
      `    confirmation: each method's selected point, seeds 0-${(flags.seeds ?? p.confirmationSeeds) - 1}, sharpness on ${p.measureExamples} test examples`,
    );
  }
  lines.push(`  results ${resultsDir}/<experiment>/{selection,confirmation}; ${executor.description}`);
  return lines.join('\n') + '\n';
}

/** `reproduce --full`: both stages of both experiments, the analysis and the verdict (reproduceFull.ts). */
async function reproduceFullCommand(flags: ReproduceFlags): Promise<void> {
  const started = performance.now();
  const resultsDir = resolve(flags.results ?? 'results/reproduce-full');
  const { LocalPoolExecutor } = await import('../../experiments/localExecutor.js');
  const executor = new LocalPoolExecutor({
    ...(flags.jobs !== undefined ? { jobs: flags.jobs } : {}),
    ...(flags.threads !== undefined ? { threads: flags.threads } : {}),
    ...(flags.backend !== undefined ? { backend: flags.backend } : {}),
  });
  const methods = flags.optimizersOverride ?? REPRODUCE_SETTINGS.optimizers;
  const protocols =
    flags.protocol !== undefined ? applyProtocolOverrides(FULL_PROTOCOLS, readProtocolOverrides(flags.protocol)) : [...FULL_PROTOCOLS];
  const header = describeFull(flags, protocols, methods, resultsDir, executor);
  process.stdout.write(header);
  const { runFullReproduce, formatFullReproduce, writeFullReproduce } = await import('../reproduceFull.js');
  const report = Object.fromEntries(
    REPRODUCE_SETTINGS.experiments.map((e) => [
      e.key,
      e.report.agsam && e.report.gsam ? { a: e.report.agsam.accuracy, b: e.report.gsam.accuracy } : undefined,
    ]),
  );
  const shrink = shrinkProtocol(flags);
  const result = await runFullReproduce({
    resultsDir,
    executor,
    methods,
    report,
    protocols,
    ...(flags.seeds !== undefined ? { seeds: flags.seeds } : {}),
    ...(shrink ? { shrink } : {}),
  });
  await executor.close();
  const confirmationTable = (key: string, records: RunRecord[]): string => {
    const exp = REPRODUCE_SETTINGS.experiments.find((e) => e.key === key) as Experiment;
    const { summary, notes } = summarizeWithNotes(records);
    return comparisonTable(exp, summary) + notes.map((n) => `${n}\n`).join('');
  };
  const markdown = await formatFullReproduce(result, confirmationTable);
  const wall = (performance.now() - started) / 1000;
  const body = `${markdown}\nwall time ${wall.toFixed(0)} s\n`;
  process.stdout.write(`\n${body}`);
  const files = await writeFullReproduce(resultsDir, result, body, header);
  process.stdout.write(`written: ${files.join(', ')}\n`);
}
