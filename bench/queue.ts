/**
 * The queue's cost against the local pool, on this machine: the same runs through the local pool
 * (2 at once) and through the queue (a local redis-server, 2 `flatminima worker` processes with
 * --concurrency 1). Prints the wall time and throughput of each, their ratio (target >= 0.9), the
 * per-job overhead of the queue (enqueue to start on an idle worker, job time beyond the run's own
 * training time, result back to the submitter) and the Redis commands per job.
 *
 * Usage: npm run bench:queue [-- --runs 8 --n 2000 --epochs 4 --backend cpu]
 * Needs redis-server on the PATH (Debian: apt-get install redis-server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Job, Queue } from 'bullmq';
import { LocalPoolExecutor } from '../src/experiments/localExecutor.js';
import { closeRedisClient, connectChecked, createRedisClient, parseRedisUrl } from '../src/experiments/queue/connection.js';
import { DEFAULT_QUEUE } from '../src/experiments/queue/keys.js';
import { QueueExecutor } from '../src/experiments/queue/queueExecutor.js';
import { runId } from '../src/experiments/runId.js';
import type { RunSpec } from '../src/experiments/schema.js';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '8' },
    n: { type: 'string', default: '2000' },
    epochs: { type: 'string', default: '4' },
    backend: { type: 'string', default: 'cpu' },
  },
});
const int = (name: 'runs' | 'n' | 'epochs'): number => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a whole number >= 1, got ${values[name]}`);
  return v;
};
const [runs, n, epochs] = [int('runs'), int('n'), int('epochs')];
if (values.backend !== 'cpu' && values.backend !== 'wasm') throw new RangeError(`--backend must be cpu or wasm, got ${values.backend}`);
const backend = values.backend;
if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('bench:queue needs redis-server on the PATH (Debian: apt-get install redis-server)');
  process.exit(1);
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(', ');
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const range = (xs: number[]): string => `median ${seconds(median(xs))} (${seconds(Math.min(...xs))}-${seconds(Math.max(...xs))})`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves when `child` has printed `text` on stdout or stderr. */
function printed(child: ChildProcess, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    const on = (c: Buffer): void => {
      out += c.toString();
      if (out.includes(text)) resolve();
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
    child.once('exit', (code) => reject(new Error(`process exited (${code}) before printing ${JSON.stringify(text)}:\n${out}`)));
  });
}

const specs: RunSpec[] = Array.from({ length: runs }, (_, i) => ({
  dataset: { name: 'moons', n, noise: 0.3 },
  model: 'mlp',
  optimizer: { name: i % 2 === 0 ? 'sam' : 'gsam' },
  base: { name: 'momentum', learningRate: 0.05 },
  epochs,
  batchSize: 32,
  seed: i,
  measureExamples: 0,
}));

console.log(`queue benchmark: ${runs} moons runs (n=${n}, ${epochs} epochs, batch 32, SAM/GSAM), backend ${backend}`);
console.log(`load average at start: ${load()}`);

// 1. The local pool, 2 runs at once.
const localDir = mkdtempSync(join(tmpdir(), 'fm-bench-local-'));
const t0 = performance.now();
const localRecords = await new LocalPoolExecutor({ jobs: 2, backend, ...(backend === 'wasm' ? { threads: 1 } : {}) }).run(specs, { resultsDir: localDir });
const localMs = performance.now() - t0;
console.log(`local pool (2 at once): ${seconds(localMs)}, ${((runs / localMs) * 60_000).toFixed(2)} runs/min; load ${load()}`);

// 2. The queue: redis-server, 2 workers of concurrency 1.
const port = await freePort();
const redisDir = mkdtempSync(join(tmpdir(), 'fm-bench-redis-'));
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'], { stdio: ['ignore', 'pipe', 'pipe'] });
await printed(redis, 'Ready to accept connections');
const url = `redis://127.0.0.1:${port}`;
const target = parseRedisUrl(url);
const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const workers = ['bench-w1', 'bench-w2'].map((name) =>
  spawn(process.execPath, [main, 'worker', '--redis', url, '--concurrency', '1', '--name', name, ...(backend === 'wasm' ? ['--threads', '1'] : [])], { stdio: ['ignore', 'pipe', 'pipe'] }),
);
await Promise.all(workers.map((w, i) => printed(w, `worker bench-w${i + 1}: `)));
const client = createRedisClient(target);
await connectChecked(client, target);
const commands = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))?.[1]);
/** Calls per command name so far (INFO commandstats). */
const commandStats = async (): Promise<Map<string, number>> =>
  new Map([...(await client.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
const statsBefore = await commandStats();
const commandsBefore = await commands();
const queueDir = mkdtempSync(join(tmpdir(), 'fm-bench-queue-'));
const backAt = new Map<string, number>();
const exec = new QueueExecutor({ redis: target, backend, log: () => {} });
const t1 = performance.now();
const records = await exec.run(specs, { resultsDir: queueDir, onEvent: (e) => e.type === 'finished' && backAt.set(e.record.runId, Date.now()) });
const queueMs = performance.now() - t1;
await exec.close();
const commandsAfter = await commands();
const statsAfter = await commandStats();
console.log(`queue (2 workers x 1):  ${seconds(queueMs)}, ${((runs / queueMs) * 60_000).toFixed(2)} runs/min; load ${load()}`);
console.log(`throughput ratio queue / local pool: ${(localMs / queueMs).toFixed(3)} (target >= 0.9)`);
// Two lanes either way: each lane's share of the wall time per run, minus the run's own training time.
const training = (rs: { wallSeconds: number }[]): number => (rs.reduce((a, r) => a + r.wallSeconds, 0) / rs.length) * 1000;
const slot = (ms: number): number => (ms * 2) / runs;
console.log(
  `per run: training ${seconds(training(localRecords))} local, ${seconds(training(records))} queue; wall time per run and lane beyond training: ` +
    `local pool ${seconds(slot(localMs) - training(localRecords))}, queue ${seconds(slot(queueMs) - training(records))}`,
);

// 3. Per-job overhead from BullMQ's own timestamps (ms since the epoch, all on this machine).
const queue = new Queue(DEFAULT_QUEUE, { connection: client });
const jobs = await Promise.all(specs.map((s) => Job.fromId(queue, runId(s))));
const pickups: number[] = [];
const beyondTraining: number[] = [];
const back: number[] = [];
for (const [i, job] of jobs.entries()) {
  if (!job?.processedOn || !job.finishedOn) throw new Error(`job of spec ${i} has no timestamps`);
  // A job waits for a free worker too; pickup counts from when its worker became free.
  const prevOnWorker = jobs.filter((j) => j !== job && j?.processedBy === job.processedBy && (j?.finishedOn ?? 0) <= job.processedOn!);
  const freeAt = Math.max(job.timestamp, ...prevOnWorker.map((j) => j!.finishedOn!));
  pickups.push(job.processedOn - freeAt);
  beyondTraining.push(job.finishedOn - job.processedOn - records[i].wallSeconds * 1000);
  back.push((backAt.get(runId(specs[i])) ?? NaN) - job.finishedOn);
}
console.log(`enqueue (or worker free) to start: ${range(pickups)}`);
console.log(`job time beyond the run's training time (child process start, backend init, data, model upload): ${range(beyondTraining)}`);
console.log(`result back (job completed to record and model written locally): ${range(back)}`);
console.log(`Redis commands: ${commandsAfter - commandsBefore} for ${runs} jobs, ${((commandsAfter - commandsBefore) / runs).toFixed(0)} per job (progress reports, lock renewals, events, collection)`);
const top = [...statsAfter]
  .map(([name, calls]) => [name, calls - (statsBefore.get(name) ?? 0)] as const)
  .filter(([, calls]) => calls > 0)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 8);
console.log(`  of which (calls, scripts count once): ${top.map(([name, calls]) => `${name} ${calls}`).join(', ')}`);
console.log(`queue phase: ${seconds(queueMs)} of 2 lanes; Redis commands per second of the phase: ${((commandsAfter - commandsBefore) / (queueMs / 1000)).toFixed(1)}`);
console.log(`load average at end: ${load()}`);

await queue.close();
await closeRedisClient(client);
await Promise.all(workers.map((w) => new Promise((resolve) => { w.once('exit', resolve); w.kill('SIGTERM'); })));
await new Promise((resolve) => { redis.once('exit', resolve); redis.kill('SIGTERM'); });
for (const d of [localDir, queueDir, redisDir]) rmSync(d, { recursive: true, force: true });
