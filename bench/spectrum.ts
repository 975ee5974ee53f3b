/**
 * `npm run bench:spectrum`: time of the Hessian measures on the report's CNN (conv32-pool-conv64-
 * pool-fc128-fc10, 225,034 weights, seeded initial weights) over the first 1,000 embedded MNIST
 * digits, on the wasm backend: one Hessian-vector product, the top eigenvalue (power iteration and
 * Lanczos), the top-5 (Lanczos), the trace (Hutchinson) and the spectral density (stochastic Lanczos
 * quadrature); then the same measures on the same weights and examples in PyTorch when it is present
 * (bench/spectrum_torch.py, following PyHessian's algorithms). Prints a Markdown table.
 *
 * Options: --examples N (1000)  --threads N (1, wasm and PyTorch)  --chunk-size N (250)  --tol T (1e-3)
 *          --k N (5)  --trace-samples N (10)  --density-runs N (2)  --density-iterations N (20)  --no-torch
 */
import { Command, InvalidArgumentError } from 'commander';
import * as tf from '@tensorflow/tfjs';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { initBackend } from '../src/backend/index.js';
import { loadEmbeddedMnist, toTensors } from '../src/data/index.js';
import { createCnn } from '../src/models/index.js';
import {
  hessianSpectralDensity,
  hessianTopEigenvalue,
  hessianTopEigenvalues,
  hessianTrace,
  hessianVectorProduct,
  modelObjective,
  type Objective,
} from '../src/sharpness/index.js';

interface Args {
  examples: number;
  threads: number;
  chunkSize: number;
  tol: number;
  k: number;
  traceSamples: number;
  densityRuns: number;
  densityIterations: number;
  torch: boolean;
}

function parseArgs(argv: string[]): Args {
  const int =
    (flag: string, min: number) =>
    (v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be an integer >= ${min}; got ${JSON.stringify(v)}`);
      return n;
    };
  const unit = (v: string): number => {
    const n = Number(v);
    if (!(n > 0 && n < 1)) throw new InvalidArgumentError(`--tol must be a number strictly between 0 and 1; got ${JSON.stringify(v)}`);
    return n;
  };
  return new Command('bench:spectrum')
    .option('--examples <n>', 'embedded MNIST digits the loss averages over', int('--examples', 1), 1000)
    .option('--threads <n>', 'wasm threads (and PyTorch threads)', int('--threads', 1), 1)
    .option('--chunk-size <n>', 'examples per chunk of a Hessian-vector product', int('--chunk-size', 1), 250)
    .option('--tol <t>', 'tolerance of the eigenvalue searches (PyHessian default 1e-3)', unit, 1e-3)
    .option('--k <n>', 'how many top eigenvalues', int('--k', 1), 5)
    .option('--trace-samples <n>', 'Hutchinson probes', int('--trace-samples', 2), 10)
    .option('--density-runs <n>', 'SLQ runs', int('--density-runs', 1), 2)
    .option('--density-iterations <n>', 'Lanczos steps per SLQ run', int('--density-iterations', 1), 20)
    .option('--no-torch', 'skip PyTorch')
    .parse(argv, { from: 'user' })
    .opts<Args>();
}

interface Timing {
  seconds: number;
  cpuSeconds: number;
  products: number;
  value: unknown;
}

function timed(fn: () => { products: number; value: unknown }): Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const { products, value } = fn();
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, products, value };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Wall and CPU seconds of single Hessian-vector products (medians of 3, after one untimed). */
function productSeconds(obj: Objective): { seconds: number; cpuSeconds: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 4; i++) {
    const v = obj.vars.map((w) => tf.randomNormal(w.shape, 0, 1, 'float32', i));
    const t = timed(() => {
      tf.dispose(hessianVectorProduct(obj, v, { method: 'double-backprop' }).product);
      return { products: 1, value: null };
    });
    if (i > 0) {
      wall.push(t.seconds);
      cpu.push(t.cpuSeconds);
    }
    tf.dispose(v);
  }
  return { seconds: median(wall), cpuSeconds: median(cpu) };
}

/** Writes the weights (tfjs layout), examples (NHWC) and labels for the PyTorch side: a JSON header line, then float32 data. */
function writeExchange(file: string, model: tf.LayersModel, x: tf.Tensor, labels: Int32Array): void {
  const arrays = [
    ...model.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync() as Float32Array })),
    { shape: x.shape, data: x.dataSync() as Float32Array },
  ];
  arrays.push({ shape: [labels.length], data: Float32Array.from(labels) });
  const header = Buffer.from(`${JSON.stringify({ shapes: arrays.map((a) => a.shape) })}\n`);
  writeFileSync(file, Buffer.concat([header, ...arrays.map((a) => Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength))]));
}

function run(cmd: string, args: string[]): Promise<string> {
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

/** The newest PyTorch present: the /tmp/torchenv venv, else Debian's python3. */
async function findTorch(): Promise<{ python: string; version: string } | null> {
  for (const python of ['/tmp/torchenv/bin/python', '/usr/bin/python3']) {
    if (!existsSync(python)) continue;
    try {
      return { python, version: (await run(python, ['-c', 'import torch; print(torch.__version__)'])).trim() };
    } catch {
      // not importable with this interpreter
    }
  }
  return null;
}

/** bench/spectrum_torch.py, next to this file (tsx) or two levels up from dist/bench (compiled). */
function torchScript(): string {
  const dir = path.dirname(fileURLToPath(import.meta.url));
  const found = [path.join(dir, 'spectrum_torch.py'), path.join(dir, '..', '..', 'bench', 'spectrum_torch.py')].find((p) => existsSync(p));
  if (found === undefined) throw new Error('spectrum_torch.py not found next to the bench');
  return found;
}

/** A short text for a measure's value: eigenvalues, a trace, or a density's Ritz range. */
function show(value: unknown): string {
  const p = (v: number): string => v.toPrecision(4);
  if (typeof value === 'number') return p(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return (value as number[]).map(p).join(', ');
  if (Array.isArray(value)) {
    const ritz = (value as Array<{ ritzValues: number[] }>).flatMap((r) => r.ritzValues);
    return `Ritz values ${p(Math.min(...ritz))} … ${p(Math.max(...ritz))}`;
  }
  return '';
}

async function main(): Promise<void> {
  const a = parseArgs(process.argv.slice(2));
  const info = await initBackend({ backend: 'wasm', threads: a.threads });
  const model = createCnn({ seed: 0 });
  const digits = loadEmbeddedMnist();
  const n = Math.min(a.examples, digits.size);
  const idx = Int32Array.from({ length: n }, (_, i) => i);
  const { x: flat, y } = toTensors(digits, idx);
  const x = flat.reshape([n, 28, 28, 1]);
  const obj = modelObjective(model, x, y, { chunkSize: a.chunkSize });
  const torch = a.torch ? await findTorch() : null;
  console.error(
    `bench:spectrum: CNN (${model.countParams()} weights), ${n} MNIST digits, chunks of ${a.chunkSize}; ${info.name} ${info.threads ?? ''} thread(s); ` +
      (torch ? `PyTorch ${torch.version}` : a.torch ? 'no PyTorch found' : 'PyTorch skipped'),
  );

  const hvp = productSeconds(obj);
  console.error(`  one Hessian-vector product: ${hvp.seconds.toFixed(2)} s (CPU ${hvp.cpuSeconds.toFixed(2)} s)`);
  const ours: Record<string, Timing> = {};
  const step = (name: string, fn: () => { products: number; value: unknown }): void => {
    ours[name] = timed(fn);
    console.error(`  ${name}: ${ours[name].seconds.toFixed(1)} s, ${ours[name].products} products`);
  };
  const exact = { method: 'double-backprop' as const };
  step('top-1 power', () => {
    const r = hessianTopEigenvalue(obj, { ...exact, tol: a.tol, maxIterations: 100 });
    return { products: r.iterations, value: r.value };
  });
  step('top-1 Lanczos', () => {
    const r = hessianTopEigenvalues(obj, { ...exact, k: 1, tol: a.tol });
    return { products: r.iterations, value: r.values };
  });
  step(`top-${a.k} Lanczos`, () => {
    const r = hessianTopEigenvalues(obj, { ...exact, k: a.k, tol: a.tol });
    return { products: r.iterations, value: r.values };
  });
  step('trace', () => {
    const r = hessianTrace(obj, { ...exact, samples: a.traceSamples });
    return { products: a.traceSamples, value: r.value };
  });
  step('density', () => {
    const r = hessianSpectralDensity(obj, { ...exact, runs: a.densityRuns, iterations: a.densityIterations });
    return { products: r.iterations, value: r.runs };
  });

  let theirs: { torch: string; threads: number; hvpSeconds: number; hvpCpuSeconds: number; measures: Record<string, Timing> } | null = null;
  if (torch) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'flatminima-spectrum-'));
    try {
      const file = path.join(dir, 'cnn.bin');
      writeExchange(file, model, x, digits.y.slice(0, n));
      const out = await run(torch.python, [
        torchScript(),
        '--data',
        file,
        '--threads',
        String(a.threads),
        '--chunk-size',
        String(a.chunkSize),
        '--tol',
        String(a.tol),
        '--k',
        String(a.k),
        '--trace-samples',
        String(a.traceSamples),
        '--density-runs',
        String(a.densityRuns),
        '--density-iterations',
        String(a.densityIterations),
      ]);
      theirs = JSON.parse(
        out
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('{'))
          .pop()!,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  tf.dispose([flat, x, y]);
  model.dispose();

  const f = (s: number): string => (s >= 100 ? s.toFixed(0) : s >= 10 ? s.toFixed(1) : s.toFixed(2));
  const lines = [
    `Hessian measures of the CNN (${obj.vars.reduce((s, v) => s + v.size, 0)} weights) on ${n} MNIST digits, chunks of ${a.chunkSize}, ${a.threads} thread(s); ` +
      `tol ${a.tol}, ${a.traceSamples} Hutchinson probes, density ${a.densityRuns} runs × ${a.densityIterations} Lanczos steps (${os.cpus()[0]?.model ?? 'CPU'}, Node ${process.versions.node}, load average ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}).`,
    '',
    `| measure | wasm: products | wasm: s (CPU s) | wasm: value |${theirs ? ` PyTorch ${theirs.torch}: products | PyTorch: s (CPU s) | PyTorch: value | wasm / PyTorch, CPU s per product |` : ''}`,
    `|---|---:|---:|---|${theirs ? '---:|---:|---|---:|' : ''}`,
    `| one Hessian-vector product | 1 | ${f(hvp.seconds)} (${f(hvp.cpuSeconds)}) | |` +
      (theirs
        ? ` 1 | ${f(theirs.hvpSeconds)} (${f(theirs.hvpCpuSeconds)}) | | ${(hvp.cpuSeconds / theirs.hvpCpuSeconds).toFixed(2)} |`
        : ''),
  ];
  const names = [...new Set([...Object.keys(ours), ...(theirs ? Object.keys(theirs.measures) : [])])];
  for (const name of names) {
    const o = ours[name];
    const t = theirs?.measures[name];
    const ratio = o && t ? (o.cpuSeconds / o.products / (t.cpuSeconds / t.products)).toFixed(2) : '';
    lines.push(
      `| ${name} | ${o ? o.products : '—'} | ${o ? `${f(o.seconds)} (${f(o.cpuSeconds)})` : '—'} | ${o ? show(o.value) : ''} |` +
        (theirs
          ? ` ${t ? t.products : '—'} | ${t ? `${f(t.seconds)} (${f(t.cpuSeconds)})` : '—'} | ${t ? show(t.value) : ''} | ${ratio} |`
          : ''),
    );
  }
  lines.push(
    '',
    "CPU s: user + system time of the process, steadier than wall time on a loaded machine. Values: the measure itself, from each side's own random vectors.",
  );
  if (!theirs)
    lines.push(
      '',
      a.torch ? 'PyTorch: not found (no /tmp/torchenv, no torch for /usr/bin/python3): columns skipped.' : 'PyTorch: skipped (--no-torch).',
    );
  console.log(lines.join('\n'));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
