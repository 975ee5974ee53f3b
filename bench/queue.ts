/**
 * The queue's cost against the local pool, on this machine: the same runs through the local pool
 * (2 at once) and through the queue (a local redis-server, 2 `flatminima worker` processes with
 * --concurrency 1). Prints the wall time and throughput of each, their ratio (target >= 0.9), the
 * per-job overhead of the queue (enqueue to start on an idle worker, job time beyond the run's own
 * training time, result back to the submitter) and the Redis commands per job.
 *
 * The machine's load from others changes between the two phases; `--rounds 2` runs them as local,
 * queue, queue, local and compares the sums, which cancels a steady drift.
 *
 * Usage: npm run bench:queue [-- --runs 8 --n 2000 --epochs 4 --backend cpu --rounds 1 --fsync always|everysec]
 * Needs redis-server on the PATH (Debian: apt-get install redis-server).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Job, Queue } from 'bullmq';
import type { RunRecord } from '../src/experiments/schema.js';
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
    rounds: { type: 'string', default: '1' },
    fsync: { type: 'string', default: 'always' },
  },
});
const int = (name: 'runs' | 'n' | 'epochs' | 'rounds'): number => {
  const v = Number(values[name]);
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`--${name} must be a whole number >= 1, got ${values[name]}`);
  return v;
};
const [runs, n, epochs, rounds] = [int('runs'), int('n'), int('epochs'), int('rounds')];
if (values.backend !== 'cpu' && values.backend !== 'wasm') throw new RangeError(`--backend must be cpu or wasm, got ${values.backend}`);
const backend = values.backend;
if (values.fsync !== 'always' && values.fsync !== 'everysec')
  throw new RangeError(`--fsync must be always or everysec (Redis appendfsync), got ${values.fsync}`);
const fsync = values.fsync;
if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
  console.error('bench:queue needs redis-server on the PATH (Debian: apt-get install redis-server)');
  process.exit(1);
}

/**
 * CPU seconds of process `pid` and of its children it has reaped (/proc/<pid>/stat utime, stime,
 * cutime, cstime). Less sensitive than wall time to what others run on a shared machine: the work
 * the queue adds shows as CPU, wherever it runs.
 */
function cpuSeconds(pid: number | 'self'): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  // After the ')' that ends the command name, field 14 of proc(5) (utime) is index 11.
  const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
  return ticks / 100; // USER_HZ is 100 on Linux
}

const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(', ');
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

console.log(
  `queue benchmark: ${runs} moons runs (n=${n}, ${epochs} epochs, batch 32, SAM/GSAM), backend ${backend}, Redis appendfsync ${fsync}`,
);
console.log(`load average at start: ${load()}`);

// The queue's side: redis-server (append-only file fsynced on every write by default, as the README advises) and
// 2 workers of concurrency 1, started before any timing (idle, they cost next to nothing).
const port = await freePort();
const redisDir = mkdtempSync(join(tmpdir(), 'fm-bench-redis-'));
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--dir', redisDir, '--save', '', '--appendonly', 'yes', '--appendfsync', fsync],
  { stdio: ['ignore', 'pipe', 'pipe'] },
);
await printed(redis, 'Ready to accept connections');
const url = `redis://127.0.0.1:${port}`;
const target = parseRedisUrl(url);
const main = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const workers = ['bench-w1', 'bench-w2'].map((name) =>
  spawn(
    process.execPath,
    [main, 'worker', '--redis', url, '--concurrency', '1', '--name', name, ...(backend === 'wasm' ? ['--threads', '1'] : [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  ),
);
await Promise.all(workers.map((w, i) => printed(w, `worker bench-w${i + 1}: `)));
const client = createRedisClient(target);
await connectChecked(client, target);
const queue = new Queue(DEFAULT_QUEUE, { connection: client });
const commands = async (): Promise<number> => Number(/total_commands_processed:(\d+)/.exec(await client.info('stats'))?.[1]);
/** Calls per command name so far (INFO commandstats). */
const commandStats = async (): Promise<Map<string, number>> =>
  new Map([...(await client.info('commandstats')).matchAll(/cmdstat_([^:]+):calls=(\d+)/g)].map((m) => [m[1], Number(m[2])]));
const dirs: string[] = [redisDir];
const tempDir = (prefix: string): string => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

/** Two lanes either way: a lane's wall time per run, minus the run's own training time. */
const training = (rs: RunRecord[]): number => (rs.reduce((a, r) => a + r.wallSeconds, 0) / rs.length) * 1000;
const beyond = (ms: number, rs: RunRecord[]): number => (ms * 2) / runs - training(rs);

let localCpu = 0;
let queueCpu = 0;

async function localPhase(): Promise<number> {
  const cpu0 = cpuSeconds('self');
  const t0 = performance.now();
  const records = await new LocalPoolExecutor({ jobs: 2, backend, ...(backend === 'wasm' ? { threads: 1 } : {}) }).run(specs, {
    resultsDir: tempDir('fm-bench-local-'),
  });
  const ms = performance.now() - t0;
  localCpu += cpuSeconds('self') - cpu0;
  console.log(
    `local pool (2 at once): ${seconds(ms)}, ${((runs / ms) * 60_000).toFixed(2)} runs/min; training ${seconds(training(records))} a run, ${seconds(beyond(ms, records))} beyond it per run and lane; load ${load()}`,
  );
  return ms;
}

const pickups: number[] = [];
const jobBeyondTraining: number[] = [];
const back: number[] = [];
let queueCommands = 0;
let queueMsTotal = 0;
const commandTotals = new Map<string, number>();

async function queuePhase(): Promise<number> {
  // Each queue phase starts from an empty queue (else the runs would be found finished).
  await queue.obliterate({ force: true });
  const ours = await client.keys('flatminima:*');
  if (ours.length > 0) await client.del(...ours);
  const statsBefore = await commandStats();
  const commandsBefore = await commands();
  const backAt = new Map<string, number>();
  const exec = new QueueExecutor({ redis: target, backend, log: () => {} });
  const processes = (): number =>
    cpuSeconds('self') + cpuSeconds(redis.pid as number) + workers.reduce((sum, w) => sum + cpuSeconds(w.pid as number), 0);
  const cpu1 = processes();
  const t1 = performance.now();
  const records = await exec.run(specs, {
    resultsDir: tempDir('fm-bench-queue-'),
    onEvent: (e) => e.type === 'finished' && backAt.set(e.record.runId, Date.now()),
  });
  const ms = performance.now() - t1;
  queueCpu += processes() - cpu1; // each job's runner process has exited (and been reaped) before its job completes
  await exec.close();
  queueCommands += (await commands()) - commandsBefore;
  queueMsTotal += ms;
  for (const [name, calls] of await commandStats())
    commandTotals.set(name, (commandTotals.get(name) ?? 0) + calls - (statsBefore.get(name) ?? 0));
  console.log(
    `queue (2 workers x 1):  ${seconds(ms)}, ${((runs / ms) * 60_000).toFixed(2)} runs/min; training ${seconds(training(records))} a run, ${seconds(beyond(ms, records))} beyond it per run and lane; load ${load()}`,
  );
  // Per-job overhead from BullMQ's own timestamps (ms since the epoch, all on this machine).
  const jobs = await Promise.all(specs.map((s) => Job.fromId(queue, runId(s))));
  for (const [i, job] of jobs.entries()) {
    if (!job?.processedOn || !job.finishedOn) throw new Error(`job of spec ${i} has no timestamps`);
    // A job waits for a free worker too; pickup counts from when its worker became free.
    const prevOnWorker = jobs.filter((j) => j !== job && j?.processedBy === job.processedBy && (j?.finishedOn ?? 0) <= job.processedOn!);
    pickups.push(job.processedOn - Math.max(job.timestamp, ...prevOnWorker.map((j) => j!.finishedOn!)));
    jobBeyondTraining.push(job.finishedOn - job.processedOn - records[i].wallSeconds * 1000);
    back.push((backAt.get(runId(specs[i])) ?? NaN) - job.finishedOn);
  }
  return ms;
}

let localMs = 0;
let queueMs = 0;
for (let r = 0; r < rounds; r++) {
  if (r % 2 === 0) {
    localMs += await localPhase();
    queueMs += await queuePhase();
  } else {
    queueMs += await queuePhase();
    localMs += await localPhase();
  }
}
console.log(
  `throughput ratio queue / local pool: ${(localMs / queueMs).toFixed(3)} over ${rounds} round${rounds === 1 ? '' : 's'} (target >= 0.9)`,
);
console.log(
  `CPU seconds per run: local pool ${(localCpu / (runs * rounds)).toFixed(2)}, queue ${(queueCpu / (runs * rounds)).toFixed(2)} ` +
    `(workers, their job runners, redis-server and the submitter): CPU-bound throughput ratio ${(localCpu / queueCpu).toFixed(3)}`,
);
console.log(`enqueue (or worker free) to start: ${range(pickups)}`);
console.log(`job time beyond the run's training time (child process start, backend init, data, model upload): ${range(jobBeyondTraining)}`);
console.log(`result back (job completed to record and model written locally): ${range(back)}`);
const jobsRun = runs * rounds;
console.log(
  `Redis commands: ${queueCommands} for ${jobsRun} jobs, ${(queueCommands / jobsRun).toFixed(0)} per job; ${(queueCommands / (queueMsTotal / 1000)).toFixed(1)} per second with 2 runs going`,
);
const top = [...commandTotals]
  .filter(([, c]) => c > 0)
  .sort((a, b) => b[1] - a[1])
  .slice(0, 8);
console.log(
  `  by command (INFO commandstats, commands inside BullMQ's Lua scripts included): ${top.map(([name, calls]) => `${name} ${calls}`).join(', ')}`,
);
console.log(`load average at end: ${load()}`);

await queue.close();
await closeRedisClient(client);
await Promise.all(
  workers.map(
    (w) =>
      new Promise((resolve) => {
        w.once('exit', resolve);
        w.kill('SIGTERM');
      }),
  ),
);
await new Promise((resolve) => {
  redis.once('exit', resolve);
  redis.kill('SIGTERM');
});
for (const d of dirs) rmSync(d, { recursive: true, force: true });
