/**
 * `npm run bench`: step time of every optimiser of the method table (src/optimizers/methods.ts: one
 * configuration per row at its defaults, see ./methods.ts) plus the configurations that issue 13's
 * step-cost targets name (SAM with interval 5) and the plain momentum step MomentumSAM is measured
 * against, on the report's MLP (2-32-32-32-2) and CNN (28x28x1), batch 64, on each available
 * backend (wasm; native, where the addon is built; cpu) and thread count, against the same SGD and
 * SAM steps in PyTorch on the same machine, timed both as it comes and with glibc's allocator told
 * to keep its memory (the tuned baseline, see ../shared/notes/baselines.md). Then the peak memory of
 * each step against its own SGD step, the step cost of the cheaper variants (LookSAM k = 5, SAM
 * every 5 steps, MomentumSAM, ESAM) against their own SGD step with issue 13's targets, the ratios
 * the native kernels are measured by, and a profile of where a step's time goes (kernels against the
 * tfjs engine's JavaScript). Prints Markdown tables.
 *
 * Each backend configuration runs in its own child process (a wasm module's thread pool is fixed
 * when it starts); rounds interleave the configurations and PyTorch. Within a child, after untimed
 * warm-up steps (the tfjs engine is JavaScript that the JIT must compile first), the optimisers take
 * turns block by block (a block's steps run back to back, as in training), in an order that rotates
 * with the round, so machine noise spreads over optimisers and backends. LookSAM and SAM every k
 * steps alternate one expensive step with k - 1 cheap ones, so a median of single steps would time
 * only the cheap ones: every optimiser (SGD too, so that ratios compare like with like) is timed in
 * blocks of C consecutive
 * steps, C the least common multiple of every configuration's period (5 with the table's
 * defaults), and ms/step is a block's time / C, medians over all blocks of all rounds. The loss
 * closure counts its evaluations, so each block also says how many passes over the batch a step
 * made (and the bench warns when blocks of one optimiser differ, i.e. do not hold whole cycles).
 * The target tables give each ratio with a 95 % bootstrap interval, paired block by block where
 * both sides come from one worker (./ratio.ts), and call a target met only when the whole interval is.
 *
 * Options: --rounds N (3)  --mlp-steps N (100)  --mlp-warmup N (300)  --cnn-steps N (20; per round and
 *          optimiser, each rounded up to whole blocks of C)
 *          --threads 1,2 (wasm and native thread counts; default 1 and the available parallelism)
 *          --cpu-cnn N (1: CNN SGD steps on the cpu backend, ~25 s each; 0 skips)  --no-torch
 */
import { Command, InvalidArgumentError } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend, type BackendInfo } from '../src/backend/index.js';
import { describeNative, nativeAddon, type NativeStatus } from '../src/backend/native.js';
import { profileSteps, type StepProfile } from './kernel-profile.js';
import { createCnn, createMlp } from '../src/models/index.js';
import {
  benchMethods,
  blockLength,
  createOptimizer,
  disposeOptimizer,
  findTarget,
  lossClosure,
  minimizeWith,
  VARIANT_TARGETS,
  type PassCounter,
} from './methods.js';
import { formatRatio, MIN_VERDICT_SAMPLES, pairedRatio, ratioOfMedians, verdict, type RatioEstimate } from './ratio.js';

/** The optimisers, from the method table (./methods.ts); the worker processes rebuild the same list. */
const METHODS = benchMethods();
/** Optimiser names, in table order. */
const OPTIMIZERS = METHODS.map((m) => m.name);
/** Each optimiser by name. */
const BY_NAME = new Map(METHODS.map((m) => [m.name, m]));
/** Steps per timed block: a multiple of every optimiser's period, so each block holds whole cycles. */
const BLOCK = blockLength(METHODS);
type OptimizerName = string;
type ModelName = 'MLP' | 'CNN';
const BATCH = 64;
/** Untimed CNN steps per optimiser before timing. */
const CNN_WARMUP = 2;

type BenchBackend = 'wasm' | 'native' | 'cpu';

interface WorkerJob {
  backend: BenchBackend;
  threads?: number;
  /** Timed blocks of {@link BLOCK} steps per optimiser on the MLP. */
  mlpBlocks: number;
  /** Timed blocks per optimiser on the CNN (the cpu backend: single SGD steps, see cnnBlockSteps). */
  cnnBlocks: number;
  /** Steps per CNN block ({@link BLOCK}; 1 on the cpu backend, whose CNN SGD step takes ~25 s). */
  cnnBlockSteps: number;
  /** Optimisers to time on the CNN (the cpu backend does SGD only). */
  cnnOptimizers: OptimizerName[];
  /** Untimed MLP steps per optimiser before timing. */
  mlpWarmup: number;
  /** Round index (rotates the optimisers' order). */
  round: number;
  memory: boolean;
  /** Whether to profile each model's SGD step (after the timed steps). */
  profile: boolean;
}

interface WorkerRow {
  model: ModelName;
  optimizer: OptimizerName;
  /** Wall time per step of each timed block (the block's time / its steps), ms. */
  times: number[];
  /** CPU time (user + system, all threads of the process) per step of each timed block, ms. */
  cpuTimes: number[];
  /** Loss evaluations per step of each timed block, in passes over the whole batch. */
  passes: number[];
  /** Peak tf.memory().numBytes during one block of steps, above the bytes held before it. */
  peakExtraBytes: number | null;
  weightBytes: number;
}

/** A profiled SGD step of one model. */
type ModelProfile = StepProfile & { model: ModelName };

interface WorkerResult {
  info: BackendInfo;
  rows: WorkerRow[];
  profiles: ModelProfile[];
  wasmHeapBytes: number | null;
  /** Tensors still alive after everything the worker made was disposed (should be 0). */
  leakedTensors: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One model's part of a worker job: how many timed blocks of how many steps, of which optimisers. */
interface ModelJob {
  model: ModelName;
  blocks: number;
  blockSteps: number;
  optimizers: OptimizerName[];
}

/** Runs in a child process: times the steps of one backend configuration. */
async function worker(job: WorkerJob): Promise<WorkerResult> {
  const info = await initBackend(job.backend === 'cpu' ? { backend: 'cpu' } : { backend: job.backend, threads: job.threads });
  const rows: WorkerRow[] = [];
  const profiles: ModelProfile[] = [];
  const tensorsAtStart = tf.memory().numTensors;
  const specs: ModelJob[] = [
    { model: 'MLP', blocks: job.mlpBlocks, blockSteps: BLOCK, optimizers: [...OPTIMIZERS] },
    { model: 'CNN', blocks: job.cnnBlocks, blockSteps: job.cnnBlockSteps, optimizers: job.cnnOptimizers },
  ];
  for (const spec of specs) {
    if (spec.blocks <= 0 || spec.optimizers.length === 0) continue;
    const bench = await benchModel(job, spec);
    rows.push(...bench.rows);
    if (bench.profile !== null) profiles.push(bench.profile);
  }
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return { info, rows, profiles, wasmHeapBytes: wasm ? wasm.HEAPU8.length : null, leakedTensors: tf.memory().numTensors - tensorsAtStart };
}

/**
 * Times `spec.optimizers` on one model and batch: warm-up, timed blocks of steps, then (when the job
 * asks) the kernel profile of SGD steps, then one memory-profiled block each.
 */
async function benchModel(job: WorkerJob, spec: ModelJob): Promise<{ rows: WorkerRow[]; profile: ModelProfile | null }> {
  const rows: WorkerRow[] = [];
  const model = spec.model === 'MLP' ? createMlp({ seed: 0 }) : createCnn({ seed: 0 });
  const { x, y } = tf.tidy(() => {
    const x =
      spec.model === 'MLP' ? tf.randomNormal([BATCH, 2], 0, 1, 'float32', 1) : tf.randomUniform([BATCH, 28, 28, 1], 0, 1, 'float32', 1);
    const classes = spec.model === 'MLP' ? 2 : 10;
    const y = tf.oneHot(tf.randomUniform([BATCH], 0, classes, 'int32', 2), classes).toFloat();
    return { x, y };
  });
  const weightBytes = model.countParams() * 4;
  const opts = spec.optimizers.map((name) => {
    const method = BY_NAME.get(name);
    if (method === undefined) throw new Error(`bench worker: unknown optimiser '${name}'`);
    const opt = createOptimizer(method);
    const counter: PassCounter = { batches: 0 };
    // ESAM's data selection needs one loss per example (its cost is part of the step); the others take the mean loss.
    return { name, opt, counter, loss: lossClosure(opt, model, x, y, counter) };
  });
  type Timed = (typeof opts)[number];
  const step = (o: Timed): void => {
    const l = minimizeWith(o.opt, o.loss);
    l.dataSync(); // wait for the step
    l.dispose();
  };
  const block = (o: Timed): void => {
    for (let s = 0; s < spec.blockSteps; s++) step(o);
  };
  const times = new Map<OptimizerName, number[]>(opts.map((o) => [o.name, []]));
  const cpuTimes = new Map<OptimizerName, number[]>(opts.map((o) => [o.name, []]));
  const passes = new Map<OptimizerName, number[]>(opts.map((o) => [o.name, []]));
  // Untimed warm-up steps (JIT tier-up of the engine's JS, first-call compilation, heap growth):
  // a training run takes thousands of steps, so the bench times the steady state. Skipped on the
  // slow cpu CNN.
  const warmup = spec.model === 'MLP' ? job.mlpWarmup : job.backend === 'cpu' ? 0 : CNN_WARMUP;
  for (let s = 0; s < warmup; s++) for (const o of opts) step(o);
  // The optimisers take turns block by block (each block's steps back to back, as in training), in
  // an order that rotates with the round: drift in the machine's speed, which on a shared VM moves
  // a step by 10 % within a minute, then hits every optimiser alike instead of whichever ran during
  // it (when each optimiser's blocks ran together, the SAM / SGD ratio moved by ±0.1 between runs).
  // A block holds whole cycles of the periodic methods (LookSAM, interval), so its time per step is
  // the average cost of their steps.
  const order = opts.map((_, i) => opts[(i + job.round) % opts.length]!);
  for (let b = 0; b < spec.blocks; b++) {
    for (const o of order) {
      const evaluations = o.counter.batches;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      block(o);
      times.get(o.name)!.push((performance.now() - t0) / spec.blockSteps);
      const c = process.cpuUsage(c0);
      cpuTimes.get(o.name)!.push((c.user + c.system) / 1000 / spec.blockSteps);
      passes.get(o.name)!.push((o.counter.batches - evaluations) / spec.blockSteps);
    }
  }
  const sgd = opts.find((o) => o.name === 'SGD');
  const profile = job.profile && sgd != null ? { model: spec.model, ...profileSteps(() => step(sgd), PROFILE_STEPS[spec.model]) } : null;
  for (const o of opts) {
    let peakExtraBytes: number | null = null;
    if (job.memory) {
      // A whole block, so that the expensive step of a periodic method is in it.
      const before = tf.memory().numBytes;
      const p = await tf.profile(() => block(o));
      peakExtraBytes = p.peakBytes - before;
    }
    rows.push({
      model: spec.model,
      optimizer: o.name,
      times: times.get(o.name)!,
      cpuTimes: cpuTimes.get(o.name)!,
      passes: passes.get(o.name)!,
      peakExtraBytes,
      weightBytes,
    });
    disposeOptimizer(o.opt);
  }
  tf.dispose([x, y]);
  model.dispose();
  return { rows, profile };
}

interface Args {
  rounds: number;
  mlpSteps: number;
  mlpWarmup: number;
  cnnSteps: number;
  threads: number[];
  cpuCnn: number;
  torch: boolean;
}

/** The bench's flags, parsed with commander (validated; `--help` lists them). */
function parseArgs(argv: string[]): Args {
  const int =
    (flag: string, min: number, max = Infinity) =>
    (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max)
        throw new InvalidArgumentError(
          `${flag} must be an integer from ${min}${max < Infinity ? ` to ${max}` : ''}; got ${JSON.stringify(v)}`,
        );
      return n;
    };
  const opts = new Command('bench')
    .option('--rounds <n>', 'interleaved rounds', int('--rounds', 1), 3)
    .option(
      '--mlp-steps <n>',
      `timed MLP steps per round and optimiser (rounded up to whole blocks of ${BLOCK})`,
      int('--mlp-steps', 1),
      // An MLP step is ~0.5 ms, so a block of 5 is short enough for one garbage collection or a
      // scheduler hiccup to double it: 20 steps a round (12 blocks in all) moved the MLP medians by
      // ±30 % between runs; 100 (60 blocks) costs about a second per optimiser and round.
      100,
    )
    .option('--mlp-warmup <n>', 'untimed MLP steps per optimiser before timing (JIT warm-up)', int('--mlp-warmup', 0), 300)
    .option(
      '--cnn-steps <n>',
      `timed CNN steps per round and optimiser (rounded up to whole blocks of ${BLOCK}; 0 = skip the CNN)`,
      int('--cnn-steps', 0),
      // 4 blocks a round (12 in all): the SAM / SGD ratio, a target at 2.0, moved by ±0.1 between
      // runs with 2 (6 in all).
      20,
    )
    .option(
      '--threads <list>',
      'wasm and native thread counts, comma-separated (1-8)',
      (v: string) => v.split(',').map(int('--threads', 1, 8)),
      [...new Set([1, Math.min(8, os.availableParallelism())])],
    )
    .option('--cpu-cnn <n>', 'CNN steps on the slow cpu backend (0 = skip)', int('--cpu-cnn', 0), 1)
    .option('--no-torch', 'skip the PyTorch baseline')
    .parse(argv, { from: 'user' })
    .opts<Args>();
  return opts;
}

function runProcess(cmd: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err.slice(-1500)}`))));
  });
}

function lastJsonLine<T>(out: string): T {
  const line = out
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .pop();
  if (line == null) throw new Error(`no JSON result in output: ${out.slice(-500)}`);
  return JSON.parse(line) as T;
}

/** The newest PyTorch present: the /tmp/torchenv venv (see the note), else Debian's python3. */
async function findTorch(): Promise<{ python: string; version: string } | null> {
  for (const python of ['/tmp/torchenv/bin/python', '/usr/bin/python3']) {
    if (!existsSync(python)) continue;
    try {
      const v = (await runProcess(python, ['-c', 'import torch; print(torch.__version__)'])).trim();
      return { python, version: v };
    } catch {
      // not importable with this interpreter
    }
  }
  return null;
}

/** bench/torch_baseline.py, next to this file (tsx) or two levels up from dist/bench (compiled). */
function torchScript(self: string): string {
  const dir = path.dirname(self);
  const candidates = [path.join(dir, 'torch_baseline.py'), path.join(dir, '..', '..', 'bench', 'torch_baseline.py')];
  const found = candidates.find((p) => existsSync(p));
  if (found == null) throw new Error(`torch_baseline.py not found (looked at ${candidates.join(', ')})`);
  return found;
}

interface TorchResult {
  torch: string;
  threads: number;
  results: Record<string, Record<'SGD' | 'SAM', number[]>>;
  cpu: Record<string, Record<'SGD' | 'SAM', number[]>>;
}

interface Config {
  label: string;
  backend: BenchBackend;
  threads?: number;
  /** Extra environment of the worker process. */
  env?: Record<string, string>;
}

/**
 * glibc's allocator told to keep freed memory (../shared/notes/baselines.md): without it PyTorch
 * hands its large activation buffers back to the system every step and pays the page faults again.
 */
const TUNED_MALLOC = { MALLOC_MMAP_THRESHOLD_: '4294967296', MALLOC_TRIM_THRESHOLD_: '4294967296', MALLOC_TOP_PAD_: '1073741824' };

/** The two ways PyTorch is timed: label prefix and environment. */
const TORCH_VARIANTS = [
  { label: 'torch', env: {} as Record<string, string> },
  { label: 'torch tuned', env: TUNED_MALLOC },
];

/** Steps of the kernel profile (in round 1, after the timed steps). */
const PROFILE_STEPS = { CNN: 6, MLP: 100 };

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/**
 * Everything the rounds collect, keyed by `model|config label|optimizer` (CPU times under `cpu:` +
 * key, passes per step under `passes:` + key; one sample per timed block, or per step for PyTorch).
 */
interface Measurements {
  samples: Map<string, number[]>;
  memory: Map<string, { peak: number | null; weights: number }>;
  infos: Map<string, BackendInfo>;
  heap: Map<string, number | null>;
  /** The profiled SGD steps, by configuration label (round 0, not the cpu backend). */
  profiles: Map<string, ModelProfile[]>;
}

function addSamples(m: Measurements, key: string, xs: number[]): void {
  m.samples.set(key, [...(m.samples.get(key) ?? []), ...xs]);
}

/** The tfjs configurations to time: wasm at each thread count, native (where built) likewise, then cpu. */
function benchConfigs(args: Args, native: NativeStatus): Config[] {
  return [
    ...args.threads.map((t): Config => ({ label: `wasm ${t}t`, backend: 'wasm', threads: t })),
    ...(native.available ? args.threads.map((t): Config => ({ label: `native ${t}t`, backend: 'native', threads: t })) : []),
    // The native kernels' threads spin briefly, then sleep, by default (src/backend/native.ts); for
    // comparison, waiting passively from the start (no spin) and libgomp's own default, spinning
    // (faster on idle cores, much slower on busy ones).
    ...(native.available
      ? args.threads
          .filter((t) => t > 1)
          .flatMap((t): Config[] => [
            { label: `native ${t}t passive`, backend: 'native', threads: t, env: { OMP_WAIT_POLICY: 'PASSIVE' } },
            { label: `native ${t}t spinning`, backend: 'native', threads: t, env: { OMP_WAIT_POLICY: 'ACTIVE' } },
          ])
      : []),
    { label: 'cpu', backend: 'cpu' },
  ];
}

/** The job of configuration `c` in round `r` (the slow cpu CNN and the memory profile run in round 0 only). */
function workerJob(args: Args, c: Config, r: number): WorkerJob {
  const cpu = c.backend === 'cpu';
  const cpuCnnSteps = r === 0 ? args.cpuCnn : 0;
  return {
    backend: c.backend,
    threads: c.threads,
    mlpBlocks: Math.ceil(args.mlpSteps / BLOCK),
    // The cpu backend's CNN: single SGD steps (~25 s each), not blocks.
    cnnBlocks: cpu ? cpuCnnSteps : Math.ceil(args.cnnSteps / BLOCK),
    cnnBlockSteps: cpu ? 1 : BLOCK,
    cnnOptimizers: cpu ? ['SGD'] : [...OPTIMIZERS],
    mlpWarmup: args.mlpWarmup,
    round: r,
    memory: r === 0 && !cpu,
    profile: r === 0 && !cpu,
  };
}

/** Runs configuration `c`'s worker process for round `r` and adds what it measured. */
async function runWorkerRound(self: string, args: Args, c: Config, r: number, m: Measurements): Promise<void> {
  const job = workerJob(args, c, r);
  const res = lastJsonLine<WorkerResult>(
    await runProcess(process.execPath, [...process.execArgv, self, '--worker', JSON.stringify(job)], c.env),
  );
  m.infos.set(c.label, res.info);
  if (res.leakedTensors !== 0) console.error(`  warning: ${c.label} worker leaked ${res.leakedTensors} tensors`);
  if (res.wasmHeapBytes != null) m.heap.set(c.label, res.wasmHeapBytes);
  if (res.profiles.length > 0) m.profiles.set(c.label, res.profiles);
  for (const row of res.rows) {
    addSamples(m, `${row.model}|${c.label}|${row.optimizer}`, row.times);
    addSamples(m, `cpu:${row.model}|${c.label}|${row.optimizer}`, row.cpuTimes);
    addSamples(m, `passes:${row.model}|${c.label}|${row.optimizer}`, row.passes);
    // Every block of whole cycles makes the same passes; blocks that differ cut a cycle (see PERIOD_FIELDS in ./methods.ts).
    if (row.passes.some((p) => Math.abs(p - row.passes[0]!) > 1e-9))
      console.error(
        `  warning: ${row.model} ${c.label} ${row.optimizer}: blocks of ${BLOCK} steps made different numbers of passes ` +
          `(${row.passes.map((p) => p.toFixed(2)).join(', ')} per step): a block does not hold whole cycles`,
      );
    if (row.peakExtraBytes != null)
      m.memory.set(`${row.model}|${c.label}|${row.optimizer}`, { peak: row.peakExtraBytes, weights: row.weightBytes });
  }
}

/**
 * Runs the PyTorch baseline for round `r` at each thread count, as it comes and tuned (the order of
 * the two alternates with the round), and adds its times.
 */
async function runTorchRound(self: string, torch: { python: string }, args: Args, r: number, m: Measurements): Promise<void> {
  for (const t of args.threads) {
    for (const variant of r % 2 === 0 ? TORCH_VARIANTS : [...TORCH_VARIANTS].reverse()) {
      const out = await runProcess(
        torch.python,
        [
          torchScript(self),
          '--threads',
          String(t),
          '--mlp-steps',
          String(args.mlpSteps),
          '--mlp-warmup',
          String(args.mlpWarmup),
          '--round',
          String(r),
          '--cnn-steps',
          String(args.cnnSteps),
        ],
        variant.env,
      );
      const res = lastJsonLine<TorchResult>(out);
      const label = `${variant.label} ${t}t`;
      for (const [model, byOpt] of Object.entries(res.results)) {
        for (const [opt, xs] of Object.entries(byOpt)) addSamples(m, `${model}|${label}|${opt}`, xs);
      }
      for (const [model, byOpt] of Object.entries(res.cpu)) {
        for (const [opt, xs] of Object.entries(byOpt)) addSamples(m, `cpu:${model}|${label}|${opt}`, xs);
      }
    }
  }
}

/** All rounds: each configuration's worker, then PyTorch, interleaved round by round. */
async function runRounds(
  self: string,
  args: Args,
  configs: Config[],
  torch: { python: string } | null,
  started: number,
): Promise<Measurements> {
  const m: Measurements = {
    samples: new Map(),
    memory: new Map(),
    infos: new Map(),
    heap: new Map(),
    profiles: new Map(),
  };
  const elapsed = (): string => ((Date.now() - started) / 1000).toFixed(0);
  for (let r = 0; r < args.rounds; r++) {
    for (const c of configs) {
      await runWorkerRound(self, args, c, r, m);
      console.error(`  round ${r + 1}: ${c.label} done (${elapsed()} s)`);
    }
    if (torch) {
      await runTorchRound(self, torch, args, r, m);
      console.error(`  round ${r + 1}: PyTorch done (${elapsed()} s)`);
    }
  }
  return m;
}

/** The lines above the tables: machine, backends as initialised, PyTorch (both ways), the cpu CNN, the native addon. */
function setupLines(args: Args, torch: { python: string; version: string } | null, native: NativeStatus, m: Measurements): string[] {
  const lines = [
    `Step times, batch ${BATCH}, median over ${args.rounds} interleaved rounds (${os.cpus().length} logical CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node}).`,
  ];
  for (const [label, info] of m.infos)
    lines.push(`- ${label}: ${info.name}${info.threads != null ? `, ${info.threads} thread(s)` : ''}; ${info.reason}`);
  if (torch) {
    lines.push(
      `- PyTorch ${torch.version} via ${torch.python}: "torch" as it comes, "torch tuned" with ` +
        `${Object.entries(TUNED_MALLOC)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')} (glibc keeps freed memory; the baseline to beat)`,
    );
  } else
    lines.push(
      `- PyTorch: ${args.torch ? 'not found (no /tmp/torchenv and no torch for /usr/bin/python3): rows skipped' : 'skipped (--no-torch)'}`,
    );
  if (args.cpuCnn === 0) lines.push('- cpu backend CNN: skipped (--cpu-cnn 0; one step takes ~25 s)');
  else lines.push(`- cpu backend CNN: SGD only, ${args.cpuCnn} step(s) without warm-up (one step takes ~25 s)`);
  if (!native.available) lines.push(`- native: ${describeNative(native, null).slice('native: '.length)}: rows skipped`);
  return lines;
}

/** The median of the samples under `key`, or null when there are none. */
function medianOf(m: Measurements, key: string): number | null {
  const xs = m.samples.get(key);
  return xs && xs.length > 0 ? median(xs) : null;
}

/** The median of the `passes:` samples under `key`, formatted, or '' when there are none (PyTorch). */
function passesOf(m: Measurements, key: string): string {
  const p = medianOf(m, `passes:${key}`);
  return p == null ? '' : p.toFixed(2);
}

/** Its own SGD step's median under `model|label`: the same base optimiser without the climb. */
function ownSgd(m: Measurements, model: string, label: string, opt: OptimizerName): number | null {
  const ref = BY_NAME.get(opt)?.reference;
  return ref === undefined || ref === opt ? null : medianOf(m, `${model}|${label}|${ref}`);
}

/**
 * The step-time table: one row per model, configuration and optimiser that has samples; our SGD and
 * SAM rows against PyTorch at the same threads, tuned and as it comes.
 */
function stepTimeTable(args: Args, configs: Config[], torch: unknown, m: Measurements): string[] {
  const lines = [
    '| model | backend | optimizer | ms/step (median) | min | CPU ms/step | passes/step | n | images/s (median) | × own SGD | × PyTorch tuned, same threads | × PyTorch as it comes |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const med = (key: string): number | null => medianOf(m, key);
  const labels = [
    ...configs.map((c) => c.label),
    ...(torch ? TORCH_VARIANTS.flatMap((v) => args.threads.map((t) => `${v.label} ${t}t`)) : []),
  ];
  for (const model of ['MLP', 'CNN'] as ModelName[]) {
    for (const label of labels) {
      for (const opt of OPTIMIZERS) {
        const key = `${model}|${label}|${opt}`;
        const ms = med(key);
        if (ms == null) continue;
        const sgd = ownSgd(m, model, label, opt);
        // "native 2t spinning" and "native 2t passive" have their thread count inside the label.
        const threads = /(\d+)t\b/.exec(label)?.[1];
        const ours = label.startsWith('wasm') || label.startsWith('native');
        const vsTorch = (variant: string): string => {
          const tm = ours && threads && (opt === 'SGD' || opt === 'SAM') ? med(`${model}|${variant} ${threads}t|${opt}`) : null;
          return tm != null ? (ms / tm).toFixed(2) : '';
        };
        lines.push(
          `| ${model} | ${label} | ${opt} | ${fmt(ms)} | ${fmt(Math.min(...m.samples.get(key)!))} | ${fmt(med(`cpu:${key}`) ?? NaN)} | ${passesOf(m, key)} | ${m.samples.get(key)!.length} | ${Math.round((BATCH * 1000) / ms)} | ` +
            `${sgd != null ? (ms / sgd).toFixed(2) : ''} | ${vsTorch('torch tuned')} | ${vsTorch('torch')} |`,
        );
      }
    }
  }
  return lines;
}

/** The peak-memory table of the profiled blocks, against the weights and against the optimiser's own SGD step. */
function memoryTable(m: Measurements): string[] {
  const lines = [
    `Peak tensor memory during one block of ${BLOCK} steps above what was held before it (tf.profile peakBytes), against the weights and against its own SGD step:`,
    '',
    '| model | backend | optimizer | peak extra (MB) | weights (MB) | extra / weights | vs own SGD (MB) |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  const mb = (b: number): string => (b / 2 ** 20).toFixed(2);
  for (const [key, mem] of m.memory) {
    const [model, label, opt] = key.split('|');
    const ref = BY_NAME.get(opt!)?.reference;
    const sgd = ref !== undefined && ref !== opt ? m.memory.get(`${model}|${label}|${ref}`) : undefined;
    lines.push(
      `| ${model} | ${label} | ${opt} | ${mb(mem.peak!)} | ${mb(mem.weights)} | ${(mem.peak! / mem.weights).toFixed(2)} | ${sgd ? mb(mem.peak! - sgd.peak!) : ''} |`,
    );
  }
  return lines;
}

/**
 * The ratio of the samples under `num` to those under `den`, with its interval: paired block by
 * block when both come from one worker configuration (same label; ./ratio.ts), else of medians.
 */
function ratioOf(m: Measurements, num: string, den: string): RatioEstimate | null {
  const a = m.samples.get(num);
  const b = m.samples.get(den);
  if (a === undefined || b === undefined || a.length === 0 || b.length === 0) return null;
  const sameWorker = num.split('|')[1] === den.split('|')[1] && a.length === b.length;
  return sameWorker ? pairedRatio(a, b) : ratioOfMedians(a, b);
}

/**
 * Issue 13's table: the step cost of the cheaper variants (and SAM, for reference) as a ratio to
 * their own SGD step (the same base optimiser without the climb: momentum SGD for MomentumSAM), per
 * model and tfjs backend configuration, paired block by block in this one run, against the targets.
 */
function variantTable(configs: Config[], m: Measurements): string[] {
  const lines = [
    '',
    'Step cost of the variants against their own SGD step (ms/step = median over blocks of ' +
      `${BLOCK} consecutive steps of the block's time / ${BLOCK}, so LookSAM's and interval's cheap and expensive steps ` +
      'are averaged over whole cycles; own SGD = the same base optimiser without the climb, timed the same way; ' +
      "× own SGD = median over the blocks of the ratio of the variant's block to the own SGD block of the same pass " +
      'of the block loop, with a 95 % percentile bootstrap interval over those pairs; met? = yes when the whole ' +
      'interval is at or below the target, no when it is all above, unclear when it straddles the target or rests on ' +
      `fewer than ${MIN_VERDICT_SAMPLES} blocks):`,
    '',
    '| model | backend | variant | ms/step | passes/step | own SGD | own SGD ms/step | × own SGD [95 % CI] | target | met? |',
    '|---|---|---|---:|---:|---|---:|---:|---:|---|',
  ];
  for (const model of ['MLP', 'CNN'] as ModelName[]) {
    for (const c of configs) {
      for (const t of VARIANT_TARGETS) {
        const method = findTarget(METHODS, t);
        if (method === undefined) continue;
        const key = `${model}|${c.label}|${method.name}`;
        const ms = medianOf(m, key);
        const sgd = medianOf(m, `${model}|${c.label}|${method.reference}`);
        const ratio = ratioOf(m, key, `${model}|${c.label}|${method.reference}`);
        if (ms == null || sgd == null || ratio == null) continue;
        const name = method.name === t.name ? t.name : `${t.name} (${method.name})`;
        lines.push(
          `| ${model} | ${c.label} | ${name} | ${fmt(ms)} | ${passesOf(m, key)} | ${method.reference} | ${fmt(sgd)} | ${formatRatio(ratio)} | ` +
            `${t.target == null ? '—' : `≤ ${t.target}`} | ${t.target == null ? '' : verdict(ratio, t.target)} |`,
        );
      }
    }
  }
  return lines;
}

/**
 * The ratios the native kernels are measured by (issue 14), from this one run: the step against
 * tuned PyTorch (target <= 1.0, goal 0.7; MLP <= 1.5) and as it comes, against the pure wasm step
 * (<= 0.5), and SAM / SGD (<= 2.0), each with its interval and, where there is a target, the verdict
 * (see ./ratio.ts).
 */
function targetLines(m: Measurements, threads: number[], native: boolean, torch: boolean): string[] {
  if (!native) return [];
  const lines = [
    '',
    'Native kernels against their targets (SAM / SGD paired block by block, the others ratios of medians; ' +
      '95 % bootstrap intervals; yes / no / unclear: the whole interval at or below the target, all above it, or straddling it ' +
      `(or fewer than ${MIN_VERDICT_SAMPLES} blocks)):`,
    '',
  ];
  lines.push('| ratio | target | ' + threads.map((t) => `${t} thread${t === 1 ? '' : 's'}`).join(' | ') + ' |');
  lines.push('|---|---:|' + threads.map(() => '---:|').join(''));
  const row = (what: string, target: number | null, note: string, f: (t: number) => RatioEstimate | null): void => {
    lines.push(
      `| ${what} | ${target == null ? '' : `≤ ${target.toFixed(1)}${note}`} | ${threads
        .map((t) => {
          const e = f(t);
          return e == null ? '—' : `${formatRatio(e)}${target == null ? '' : ` ${verdict(e, target)}`}`;
        })
        .join(' | ')} |`,
    );
  };
  for (const opt of ['SGD', 'SAM']) {
    if (torch) {
      row(`CNN ${opt}: native / PyTorch tuned`, 1.0, ' (goal 0.7)', (t) =>
        ratioOf(m, `CNN|native ${t}t|${opt}`, `CNN|torch tuned ${t}t|${opt}`),
      );
      row(`CNN ${opt}: native / PyTorch as it comes`, null, '', (t) => ratioOf(m, `CNN|native ${t}t|${opt}`, `CNN|torch ${t}t|${opt}`));
    }
    row(`CNN ${opt}: native / wasm`, 0.5, '', (t) => ratioOf(m, `CNN|native ${t}t|${opt}`, `CNN|wasm ${t}t|${opt}`));
  }
  row('CNN SAM / SGD on native', 2.0, '', (t) => ratioOf(m, `CNN|native ${t}t|SAM`, `CNN|native ${t}t|SGD`));
  if (torch) {
    for (const opt of ['SGD', 'SAM']) {
      row(`MLP ${opt}: native / PyTorch tuned`, 1.5, '', (t) => ratioOf(m, `MLP|native ${t}t|${opt}`, `MLP|torch tuned ${t}t|${opt}`));
    }
  }
  row('MLP SGD: native / wasm', null, '', (t) => ratioOf(m, `MLP|native ${t}t|SGD`, `MLP|wasm ${t}t|SGD`));
  return lines;
}

/** Where an SGD step's time goes, per profiled configuration: kernels (the largest by name) and the rest. */
function profileLines(profiles: Map<string, ModelProfile[]>): string[] {
  const lines: string[] = [];
  for (const [label, list] of profiles) {
    for (const p of list) {
      const engine = p.stepMs - p.kernelMs;
      const engineCpu = p.stepCpuMs - p.kernelCpuMs;
      const pct = (ms: number, of: number): string => `${((100 * ms) / of).toFixed(0)} %`;
      lines.push('');
      lines.push(
        `Profile of a ${p.model} SGD step on ${label} (${p.steps} steps with every kernel timed, which adds ~1 us per call): ` +
          `${fmt(p.stepMs)} ms per step (CPU ${fmt(p.stepCpuMs)} ms), ${p.kernelCalls} kernel calls; kernels ${fmt(p.kernelMs)} ms ` +
          `(${pct(p.kernelMs, p.stepMs)}; CPU ${pct(p.kernelCpuMs, p.stepCpuMs)}), the rest (tfjs engine and optimiser JavaScript) ` +
          `${fmt(engine)} ms (${pct(engine, p.stepMs)}; CPU ${fmt(engineCpu)} ms, ${pct(engineCpu, p.stepCpuMs)}).`,
      );
      lines.push('');
      lines.push('| kernel | ms per step | share | CPU ms per step | CPU share | calls per step |');
      lines.push('|---|---:|---:|---:|---:|---:|');
      const row = (name: string, ms: number, cpuMs: number, calls: string): void => {
        lines.push(`| ${name} | ${fmt(ms)} | ${pct(ms, p.stepMs)} | ${fmt(cpuMs)} | ${pct(cpuMs, p.stepCpuMs)} | ${calls} |`);
      };
      for (const k of p.kernels.slice(0, 10)) row(k.name, k.ms, k.cpuMs, String(k.calls));
      const rest = p.kernels.slice(10);
      if (rest.length > 0) {
        const sum = (f: (k: (typeof rest)[number]) => number): number => rest.reduce((s, k) => s + f(k), 0);
        row(
          `${rest.length} other kernels`,
          sum((k) => k.ms),
          sum((k) => k.cpuMs),
          String(sum((k) => k.calls)),
        );
      }
      row('(not in a kernel)', engine, engineCpu, '');
    }
  }
  return lines;
}

/** Which optimisers are measured against which plain step: 'SGD (momentum 0.9) for MomentumSAM; SGD for the others'. */
function ownSgdNote(): string {
  const byRef = new Map<string, string[]>();
  for (const x of METHODS) if (x.reference !== x.name) byRef.set(x.reference, [...(byRef.get(x.reference) ?? []), x.name]);
  const refs = [...byRef.entries()].sort((a, b) => a[1].length - b[1].length);
  return refs
    .map(([ref, names], i) => `${ref} for ${i === refs.length - 1 && refs.length > 1 ? 'the others' : names.join(', ')}`)
    .join('; ');
}

/** The whole printed report (Markdown). */
function formatReport(
  args: Args,
  configs: Config[],
  torch: { python: string; version: string } | null,
  native: NativeStatus,
  m: Measurements,
  started: number,
): string {
  const lines = [...setupLines(args, torch, native, m), '', ...stepTimeTable(args, configs, torch, m), ''];
  lines.push(
    `Our rows time blocks of ${BLOCK} consecutive steps (a multiple of every optimiser's period: LookSAM's k, interval), ` +
      `ms/step = a block's time / ${BLOCK}, n = blocks; PyTorch's rows time single steps (every step alike), n = steps. ` +
      'Ratios are of medians. min = fastest block (or step); CPU ms/step = median CPU time of the process per step ' +
      '(user + system, all threads; with 1 thread it is close to the wall time on an idle machine, and less ' +
      "sensitive than wall time to other load; with 2 threads it includes the pool's spinning). passes/step = loss " +
      "evaluations per step, in passes over the whole batch (ESAM's over part of it count as that part). × own SGD = " +
      `against the same base optimiser's step without the climb (${ownSgdNote()}).`,
  );
  lines.push('', ...memoryTable(m));
  lines.push(...variantTable(configs, m));
  for (const [label, bytes] of m.heap)
    if (bytes != null) lines.push(`\nwasm heap after the run (${label}): ${(bytes / 2 ** 20).toFixed(0)} MB`);
  lines.push(...targetLines(m, args.threads, native.available, torch != null));
  lines.push(...profileLines(m.profiles));
  lines.push(`\nTotal bench time ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const self = fileURLToPath(import.meta.url);
  const native = nativeAddon();
  const configs = benchConfigs(args, native);
  const torch = args.torch ? await findTorch() : null;
  const started = Date.now();
  console.error(
    `bench: ${args.rounds} rounds; wasm threads ${args.threads.join(',')}; ` +
      (torch
        ? `PyTorch ${torch.version} (${torch.python}), as it comes and tuned`
        : args.torch
          ? 'no PyTorch found: skipped'
          : 'PyTorch skipped (--no-torch)') +
      `; ${describeNative(native, null)}${native.available ? '' : ' (native rows skipped)'}`,
  );
  const m = await runRounds(self, args, configs, torch, started);
  console.log(formatReport(args, configs, torch, native, m, started));
}

if (process.argv[2] === '--worker') {
  worker(JSON.parse(process.argv[3]!) as WorkerJob)
    .then((r) => process.stdout.write(`${JSON.stringify(r)}\n`))
    .catch((e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    });
} else {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
