/**
 * `npm run bench`: median step time of SGD, SAM, ASAM, GSAM and Adaptive-GSAM on the report's MLP
 * (2-32-32-32-2) and CNN (28x28x1), batch 64, on each available backend and wasm thread count,
 * against the same SGD and SAM steps in PyTorch on the same machine, plus the peak memory of a
 * sharpness-aware step against an SGD step. Prints Markdown tables.
 *
 * Each backend configuration runs in its own child process (a wasm module's thread pool is fixed
 * when it starts); rounds interleave the configurations and PyTorch. Within a child, after untimed
 * warm-up steps (the tfjs engine is JavaScript that the JIT must compile first), each optimiser's
 * timed steps run back to back as in training, in an order that rotates with the round, so machine
 * noise spreads over optimisers and backends; medians over all rounds.
 *
 * Options: --rounds N (3)  --mlp-steps N (20)  --mlp-warmup N (300)  --cnn-steps N (4, per round and optimiser)
 *          --threads 1,2 (wasm thread counts; default 1 and the available parallelism)
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
import { createCnn, createMlp } from '../src/models/index.js';
import { ASAM, AdaptiveGSAM, GSAM, SAM } from '../src/optimizers/index.js';

const OPTIMIZERS = ['SGD', 'SAM', 'ASAM', 'GSAM', 'AdaptiveGSAM'] as const;
type OptimizerName = (typeof OPTIMIZERS)[number];
type ModelName = 'MLP' | 'CNN';
const BATCH = 64;
/** Untimed CNN steps per optimiser before timing. */
const CNN_WARMUP = 2;

interface WorkerJob {
  backend: 'wasm' | 'cpu';
  threads?: number;
  mlpSteps: number;
  cnnSteps: number;
  /** Optimisers to time on the CNN (the cpu backend does SGD only). */
  cnnOptimizers: OptimizerName[];
  /** Untimed MLP steps per optimiser before timing. */
  mlpWarmup: number;
  /** Round index (rotates the optimisers' order). */
  round: number;
  memory: boolean;
}

interface WorkerRow {
  model: ModelName;
  optimizer: OptimizerName;
  times: number[];
  /** CPU time (user + system, all threads of the process) of each timed step, ms. */
  cpuTimes: number[];
  /** Peak tf.memory().numBytes during one step, above the bytes held before it. */
  peakExtraBytes: number | null;
  weightBytes: number;
}

interface WorkerResult {
  info: BackendInfo;
  rows: WorkerRow[];
  wasmHeapBytes: number | null;
  /** Tensors still alive after everything the worker made was disposed (should be 0). */
  leakedTensors: number;
}

function makeOptimizer(name: OptimizerName): tf.Optimizer {
  const base = tf.train.sgd(0.01);
  switch (name) {
    case 'SGD':
      return base;
    case 'SAM':
      return new SAM({ base, rho: 0.05 });
    case 'ASAM':
      return new ASAM({ base, rho: 0.5, eta: 0.01 });
    case 'GSAM':
      return new GSAM({ base, rho: 0.05, alpha: 0.1 });
    case 'AdaptiveGSAM':
      return new AdaptiveGSAM({ base, rho: 0.05, alpha: 0.1 });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** One model's part of a worker job: how many timed steps, of which optimisers. */
interface ModelJob {
  model: ModelName;
  steps: number;
  optimizers: OptimizerName[];
}

/** Runs in a child process: times the steps of one backend configuration. */
async function worker(job: WorkerJob): Promise<WorkerResult> {
  const info = await initBackend(job.backend === 'wasm' ? { backend: 'wasm', threads: job.threads } : { backend: 'cpu' });
  const rows: WorkerRow[] = [];
  const tensorsAtStart = tf.memory().numTensors;
  const specs: ModelJob[] = [
    { model: 'MLP', steps: job.mlpSteps, optimizers: [...OPTIMIZERS] },
    { model: 'CNN', steps: job.cnnSteps, optimizers: job.cnnOptimizers },
  ];
  for (const spec of specs) {
    if (spec.steps <= 0 || spec.optimizers.length === 0) continue;
    rows.push(...(await benchModel(job, spec)));
  }
  const wasm = (tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm;
  return { info, rows, wasmHeapBytes: wasm ? wasm.HEAPU8.length : null, leakedTensors: tf.memory().numTensors - tensorsAtStart };
}

/** Times `spec.optimizers` on one model and batch: warm-up, timed steps, then one profiled step each. */
async function benchModel(job: WorkerJob, spec: ModelJob): Promise<WorkerRow[]> {
  const rows: WorkerRow[] = [];
  const model = spec.model === 'MLP' ? createMlp({ seed: 0 }) : createCnn({ seed: 0 });
  const { x, y } = tf.tidy(() => {
    const x = spec.model === 'MLP' ? tf.randomNormal([BATCH, 2], 0, 1, 'float32', 1) : tf.randomUniform([BATCH, 28, 28, 1], 0, 1, 'float32', 1);
    const classes = spec.model === 'MLP' ? 2 : 10;
    const y = tf.oneHot(tf.randomUniform([BATCH], 0, classes, 'int32', 2), classes).toFloat();
    return { x, y };
  });
  const weightBytes = model.countParams() * 4;
  const opts = spec.optimizers.map((name) => ({ name, opt: makeOptimizer(name) }));
  const loss = (): tf.Scalar => tf.mean(tf.metrics.categoricalCrossentropy(y, model.apply(x) as tf.Tensor)) as tf.Scalar;
  const step = (opt: tf.Optimizer): void => {
    const l = opt.minimize(loss, true);
    l!.dataSync(); // wait for the step
    l!.dispose();
  };
  const times = new Map<OptimizerName, number[]>(opts.map((o) => [o.name, []]));
  const cpuTimes = new Map<OptimizerName, number[]>(opts.map((o) => [o.name, []]));
  // Untimed warm-up steps (JIT tier-up of the engine's JS, first-call compilation, heap growth):
  // a training run takes thousands of steps, so the bench times the steady state. Skipped on the
  // slow cpu CNN.
  const warmup = spec.model === 'MLP' ? job.mlpWarmup : job.backend === 'cpu' ? 0 : CNN_WARMUP;
  for (let s = 0; s < warmup; s++) for (const o of opts) step(o.opt);
  // Each optimiser's steps run back to back, as in training; the order rotates with the round so
  // that drift in machine load spreads over the optimisers.
  const order = opts.map((_, i) => opts[(i + job.round) % opts.length]!);
  for (const o of order) {
    for (let s = 0; s < spec.steps; s++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      step(o.opt);
      times.get(o.name)!.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpuTimes.get(o.name)!.push((c.user + c.system) / 1000);
    }
  }
  for (const o of opts) {
    let peakExtraBytes: number | null = null;
    if (job.memory) {
      const before = tf.memory().numBytes;
      const p = await tf.profile(() => step(o.opt));
      peakExtraBytes = p.peakBytes - before;
    }
    rows.push({ model: spec.model, optimizer: o.name, times: times.get(o.name)!, cpuTimes: cpuTimes.get(o.name)!, peakExtraBytes, weightBytes });
    o.opt.dispose();
  }
  tf.dispose([x, y]);
  model.dispose();
  return rows;
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
  const int = (flag: string, min: number, max = Infinity) => (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${flag} must be an integer from ${min}${max < Infinity ? ` to ${max}` : ''}; got ${JSON.stringify(v)}`);
    return n;
  };
  const opts = new Command('bench')
    .option('--rounds <n>', 'interleaved rounds', int('--rounds', 1), 3)
    .option('--mlp-steps <n>', 'timed MLP steps per round', int('--mlp-steps', 1), 20)
    .option('--mlp-warmup <n>', 'untimed MLP steps per optimiser before timing (JIT warm-up)', int('--mlp-warmup', 0), 300)
    .option('--cnn-steps <n>', 'timed CNN steps per round (0 = skip the CNN)', int('--cnn-steps', 0), 4)
    .option('--threads <list>', 'wasm thread counts, comma-separated (1-8)', (v: string) => v.split(',').map(int('--threads', 1, 8)), [
      ...new Set([1, Math.min(8, os.availableParallelism())]),
    ])
    .option('--cpu-cnn <n>', 'CNN steps on the slow cpu backend (0 = skip)', int('--cpu-cnn', 0), 1)
    .option('--no-torch', 'skip the PyTorch baseline')
    .parse(argv, { from: 'user' })
    .opts<Args>();
  return opts;
}

function runProcess(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err.slice(-1500)}`))));
  });
}

function lastJsonLine<T>(out: string): T {
  const line = out.trim().split('\n').filter((l) => l.startsWith('{')).pop();
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
  backend: 'wasm' | 'cpu';
  threads?: number;
}

const fmt = (ms: number): string => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** Everything the rounds collect, keyed by `model|config label|optimizer` (CPU times under `cpu:` + key). */
interface Measurements {
  samples: Map<string, number[]>;
  memory: Map<string, { peak: number | null; weights: number }>;
  infos: Map<string, BackendInfo>;
  heap: Map<string, number | null>;
}

function addSamples(m: Measurements, key: string, xs: number[]): void {
  m.samples.set(key, [...(m.samples.get(key) ?? []), ...xs]);
}

/** The tfjs configurations to time: wasm at each thread count, then cpu. */
function benchConfigs(args: Args): Config[] {
  return [...args.threads.map((t): Config => ({ label: `wasm ${t}t`, backend: 'wasm', threads: t })), { label: 'cpu', backend: 'cpu' }];
}

/** The job of configuration `c` in round `r` (the slow cpu CNN and the memory profile run in round 0 only). */
function workerJob(args: Args, c: Config, r: number): WorkerJob {
  const cpu = c.backend === 'cpu';
  const cpuCnnSteps = r === 0 ? args.cpuCnn : 0;
  return {
    backend: c.backend,
    threads: c.threads,
    mlpSteps: args.mlpSteps,
    cnnSteps: cpu ? cpuCnnSteps : args.cnnSteps,
    cnnOptimizers: cpu ? ['SGD'] : [...OPTIMIZERS],
    mlpWarmup: args.mlpWarmup,
    round: r,
    memory: r === 0 && !cpu,
  };
}

/** Runs configuration `c`'s worker process for round `r` and adds what it measured. */
async function runWorkerRound(self: string, args: Args, c: Config, r: number, m: Measurements): Promise<void> {
  const job = workerJob(args, c, r);
  const res = lastJsonLine<WorkerResult>(await runProcess(process.execPath, [...process.execArgv, self, '--worker', JSON.stringify(job)]));
  m.infos.set(c.label, res.info);
  if (res.leakedTensors !== 0) console.error(`  warning: ${c.label} worker leaked ${res.leakedTensors} tensors`);
  if (res.wasmHeapBytes != null) m.heap.set(c.label, res.wasmHeapBytes);
  for (const row of res.rows) {
    addSamples(m, `${row.model}|${c.label}|${row.optimizer}`, row.times);
    addSamples(m, `cpu:${row.model}|${c.label}|${row.optimizer}`, row.cpuTimes);
    if (row.peakExtraBytes != null) m.memory.set(`${row.model}|${c.label}|${row.optimizer}`, { peak: row.peakExtraBytes, weights: row.weightBytes });
  }
}

/** Runs the PyTorch baseline for round `r` at each thread count and adds its times. */
async function runTorchRound(self: string, torch: { python: string }, args: Args, r: number, m: Measurements): Promise<void> {
  for (const t of args.threads) {
    const out = await runProcess(torch.python, [
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
    ]);
    const res = lastJsonLine<TorchResult>(out);
    for (const [model, byOpt] of Object.entries(res.results)) {
      for (const [opt, xs] of Object.entries(byOpt)) addSamples(m, `${model}|torch ${t}t|${opt}`, xs);
    }
    for (const [model, byOpt] of Object.entries(res.cpu)) {
      for (const [opt, xs] of Object.entries(byOpt)) addSamples(m, `cpu:${model}|torch ${t}t|${opt}`, xs);
    }
  }
}

/** All rounds: each configuration's worker, then PyTorch, interleaved round by round. */
async function runRounds(self: string, args: Args, configs: Config[], torch: { python: string } | null, started: number): Promise<Measurements> {
  const m: Measurements = { samples: new Map(), memory: new Map(), infos: new Map(), heap: new Map() };
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

/** The lines above the tables: machine, backends as initialised, PyTorch, the cpu CNN. */
function setupLines(args: Args, torch: { python: string; version: string } | null, m: Measurements): string[] {
  const lines = [`Step times, batch ${BATCH}, median over ${args.rounds} interleaved rounds (${os.cpus().length} logical CPUs, ${os.cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.versions.node}).`];
  for (const [label, info] of m.infos) lines.push(`- ${label}: ${info.name}${info.threads != null ? `, ${info.threads} thread(s)` : ''}; ${info.reason}`);
  if (torch) lines.push(`- PyTorch ${torch.version} via ${torch.python}`);
  else lines.push(`- PyTorch: ${args.torch ? 'not found (no /tmp/torchenv and no torch for /usr/bin/python3): rows skipped' : 'skipped (--no-torch)'}`);
  if (args.cpuCnn === 0) lines.push('- cpu backend CNN: skipped (--cpu-cnn 0; one step takes ~25 s)');
  else lines.push(`- cpu backend CNN: SGD only, ${args.cpuCnn} step(s) without warm-up (one step takes ~25 s)`);
  return lines;
}

/** The step-time table: one row per model, configuration and optimiser that has samples. */
function stepTimeTable(args: Args, configs: Config[], torch: unknown, m: Measurements): string[] {
  const lines = [
    '| model | backend | optimizer | ms/step (median) | min | CPU ms/step | n | images/s (median) | × own SGD | × PyTorch same threads |',
    '|---|---|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const med = (key: string): number | null => {
    const xs = m.samples.get(key);
    return xs && xs.length > 0 ? median(xs) : null;
  };
  const labels = [...configs.map((c) => c.label), ...(torch ? args.threads.map((t) => `torch ${t}t`) : [])];
  for (const model of ['MLP', 'CNN'] as ModelName[]) {
    for (const label of labels) {
      for (const opt of OPTIMIZERS) {
        const key = `${model}|${label}|${opt}`;
        const ms = med(key);
        if (ms == null) continue;
        const sgd = med(`${model}|${label}|SGD`);
        const threads = /(\d+)t$/.exec(label)?.[1];
        const torchKey = label.startsWith('wasm') && threads ? `${model}|torch ${threads}t|${opt === 'SGD' ? 'SGD' : 'SAM'}` : null;
        const tm = torchKey && (opt === 'SGD' || opt === 'SAM') ? med(torchKey) : null;
        lines.push(
          `| ${model} | ${label} | ${opt} | ${fmt(ms)} | ${fmt(Math.min(...m.samples.get(key)!))} | ${fmt(med(`cpu:${key}`) ?? NaN)} | ${m.samples.get(key)!.length} | ${Math.round((BATCH * 1000) / ms)} | ` +
            `${sgd != null && opt !== 'SGD' ? (ms / sgd).toFixed(2) : ''} | ${tm != null ? (ms / tm).toFixed(2) : ''} |`,
        );
      }
    }
  }
  return lines;
}

/** The peak-memory table of the profiled steps, against the weights and against SGD. */
function memoryTable(m: Measurements): string[] {
  const lines = [
    'Peak tensor memory during one step above what was held before it (tf.profile peakBytes), against the weights:',
    '',
    '| model | backend | optimizer | peak extra (MB) | weights (MB) | extra / weights | vs SGD (MB) |',
    '|---|---|---|---:|---:|---:|---:|',
  ];
  const mb = (b: number): string => (b / 2 ** 20).toFixed(2);
  for (const [key, mem] of m.memory) {
    const [model, label, opt] = key.split('|');
    const sgd = m.memory.get(`${model}|${label}|SGD`);
    lines.push(
      `| ${model} | ${label} | ${opt} | ${mb(mem.peak!)} | ${mb(mem.weights)} | ${(mem.peak! / mem.weights).toFixed(2)} | ${sgd && opt !== 'SGD' ? mb(mem.peak! - sgd.peak!) : ''} |`,
    );
  }
  return lines;
}

/** The whole printed report (Markdown). */
function formatReport(args: Args, configs: Config[], torch: { python: string; version: string } | null, m: Measurements, started: number): string {
  const lines = [...setupLines(args, torch, m), '', ...stepTimeTable(args, configs, torch, m), ''];
  lines.push(
    'Ratios are of medians. min = fastest single step; CPU ms/step = median CPU time of the process per step ' +
      '(user + system, all threads; with 1 thread it is close to the wall time on an idle machine, and less ' +
      'sensitive than wall time to other load; with 2 threads it includes the pool\'s spinning).',
  );
  lines.push('', ...memoryTable(m));
  for (const [label, bytes] of m.heap) if (bytes != null) lines.push(`\nwasm heap after the run (${label}): ${(bytes / 2 ** 20).toFixed(0)} MB`);
  lines.push(`\nTotal bench time ${((Date.now() - started) / 1000).toFixed(0)} s.`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const self = fileURLToPath(import.meta.url);
  const configs = benchConfigs(args);
  const torch = args.torch ? await findTorch() : null;
  const started = Date.now();
  console.error(
    `bench: ${args.rounds} rounds; wasm threads ${args.threads.join(',')}; ` +
      (torch ? `PyTorch ${torch.version} (${torch.python})` : args.torch ? 'no PyTorch found: skipped' : 'PyTorch skipped (--no-torch)'),
  );
  const m = await runRounds(self, args, configs, torch, started);
  console.log(formatReport(args, configs, torch, m, started));
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
