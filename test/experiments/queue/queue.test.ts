/**
 * The queue end to end against a real redis-server (started here, on a free loopback port, with its
 * append-only file fsynced on every write) and two real `flatminima worker` processes:
 * records equal the local pool's; each run runs once however often it is submitted; a malformed job is
 * refused without harm; a Redis restart loses nothing; a worker stopped with SIGTERM hands its run
 * back mid-epoch and a worker killed with SIGKILL loses it only to its last checkpoint — and either
 * way the run ends at the weights of an uninterrupted run (the reference is runSpec in this process).
 *
 * Synchronisation is by events (executor events, worker log lines, process exits), each with a
 * timeout; nothing waits a fixed time.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Job, Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ExecutorEvent } from '../../../src/experiments/executor.js';
import { LocalPoolExecutor } from '../../../src/experiments/localExecutor.js';
import { closeRedisClient, connectChecked, createRedisClient, parseRedisUrl } from '../../../src/experiments/queue/connection.js';
import { runJobData } from '../../../src/experiments/queue/jobSchema.js';
import { DEFAULT_QUEUE } from '../../../src/experiments/queue/keys.js';
import { QueueExecutor } from '../../../src/experiments/queue/queueExecutor.js';
import { RedisCheckpointStore } from '../../../src/experiments/queue/redisCheckpointStore.js';
import { runId, runSpec, type Progress } from '../../../src/experiments/runner.js';
import type { RunRecord, RunSpec } from '../../../src/experiments/schema.js';
import { tempResults, tinySpec, withoutTimings } from '../helpers.js';
import { REDIS_SKIP, startRedis, type RedisServer } from './redisServer.js';
import { startsOf, startWorker, type WorkerProcess } from './workerProcess.js';

let server: RedisServer;
let client: Redis;
let queue: Queue;
const workers: WorkerProcess[] = [];
const everyWorker: WorkerProcess[] = [];
/** Lock of 8 s (a dead worker's job is taken over after it), stalled checks every second. */
const WORKER_ARGS = (): string[] => ['--redis', server.url, '--concurrency', '1', '--lock-duration', '8000', '--stalled-interval', '1000'];

async function addWorker(name: string): Promise<WorkerProcess> {
  const w = startWorker(name, WORKER_ARGS());
  workers.push(w);
  everyWorker.push(w);
  await w.ready;
  return w;
}

function executor(): QueueExecutor {
  return new QueueExecutor({ redis: parseRedisUrl(server.url), backend: 'cpu', reconcileEveryMs: 1000, log: () => {} });
}

/** The tiny moons spec of a method and seed (300 points, 2 epochs, batch 32). */
const tiny = (name: 'sgd' | 'sam' | 'gsam' | 'agsam', seed: number): RunSpec =>
  tinySpec({ optimizer: { name }, seed, dataset: { name: 'moons', n: 300, noise: 0.2 } });

/** A run long enough to be stopped mid-way: 40 steps per epoch, 6 epochs. */
const long = (seed: number): RunSpec => tinySpec({ optimizer: { name: 'agsam' }, batchSize: 8, epochs: 6, seed });

/** Runs `spec` in this process, uninterrupted: the reference for resumed runs. */
async function reference(spec: RunSpec): Promise<RunRecord> {
  return runSpec(spec, { resultsDir: tempResults(), backend: 'cpu', saveModel: false });
}

const sha256File = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  if (REDIS_SKIP) return;
  await tf.setBackend('cpu');
  server = await startRedis({ durable: true });
  const target = parseRedisUrl(server.url);
  client = createRedisClient(target);
  await connectChecked(client, target);
  queue = new Queue(DEFAULT_QUEUE, { connection: client });
  await Promise.all([addWorker('wA'), addWorker('wB')]);
});

after(async () => {
  if (REDIS_SKIP) return;
  await Promise.all(everyWorker.map((w) => w.stop()));
  await queue.close();
  await closeRedisClient(client);
  await server.stop();
});

test(
  "eight runs over two workers: each record comes back once and equals the local pool's (weights hash included)",
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const specs = (['sgd', 'sam', 'gsam', 'agsam'] as const).flatMap((name) => [0, 1].map((seed) => tiny(name, seed)));
    const local = await new LocalPoolExecutor({ jobs: 2, backend: 'cpu' }).run(specs, { resultsDir: tempResults() });
    const dir = tempResults();
    const events: ExecutorEvent[] = [];
    const exec = executor();
    const queued = await exec.run(specs, { resultsDir: dir, onEvent: (e) => events.push(e) });
    await exec.close();
    assert.equal(queued.length, specs.length);
    for (const [i, spec] of specs.entries()) {
      const id = runId(spec);
      assert.equal(queued[i].runId, id, 'records in spec order');
      assert.equal(events.filter((e) => e.type === 'finished' && e.record.runId === id).length, 1, `${id} finished once`);
      assert.equal(startsOf(workers, id), 1, `${id} started once`);
      assert.equal(queued[i].status, 'complete');
      assert.match(queued[i].weightsSha256 ?? '', /^[0-9a-f]{64}$/);
      assert.deepEqual(withoutTimings(queued[i]), withoutTimings(local[i]), `${id}: same record as the local pool`);
      assert.equal(sha256File(join(dir, id, 'model', 'weights.bin')), queued[i].weightsSha256, 'the collected model is the one hashed');
    }
    const started = events.filter((e): e is Extract<ExecutorEvent, { type: 'started' }> => e.type === 'started');
    assert.ok(
      started.every((e) => e.worker === 'wA' || e.worker === 'wB'),
      'started events name the worker',
    );
  },
);

test(
  'the same sweep submitted twice at once runs each spec once, and both submitters get every record',
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const specs = (['sam', 'gsam'] as const).map((name) => tiny(name, 2));
    const [a, b] = [executor(), executor()];
    const [dirA, dirB] = [tempResults(), tempResults()];
    const [fromA, fromB] = await Promise.all([a.run(specs, { resultsDir: dirA }), b.run(specs, { resultsDir: dirB })]);
    await Promise.all([a.close(), b.close()]);
    for (const [i, spec] of specs.entries()) {
      const id = runId(spec);
      assert.equal(startsOf(workers, id), 1, `${id} started once`);
      assert.equal((await Job.fromId(queue, id))?.attemptsStarted, 1, `${id}: one attempt started`);
      assert.equal(fromA[i].status, 'complete');
      assert.deepEqual(fromA[i], fromB[i], 'both submitters hold the same record');
    }
  },
);

test(
  'a malformed job pushed straight into the queue is refused at once with a clear error; the worker goes on',
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const eventsClient = createRedisClient(parseRedisUrl(server.url));
    const events = new QueueEvents(DEFAULT_QUEUE, { connection: eventsClient });
    await events.waitUntilReady();
    const spec = tiny('sgd', 7);
    const data = runJobData(spec, 'cpu', 1);
    const opts = { attempts: 3, backoff: { type: 'exponential', delay: 10 } };
    const bad: [string, string, unknown, RegExp][] = [
      ['bad-spec', 'run', { ...data, spec: { ...spec, epochs: 0 } }, /data\.spec\.epochs: /],
      ['extra-key', 'run', { ...data, module: './evil.js' }, /data\.module: unknown key/],
      ['wrong-name', 'exec', data, /name: must be "run", got "exec"/],
      ['wrong-id', 'run', data, /id: must be the run id of its spec/],
    ];
    const jobs = await Promise.all(bad.map(([id, name, d]) => queue.add(name, d, { ...opts, jobId: id })));
    for (const [i, job] of jobs.entries()) {
      await assert.rejects(job.waitUntilFinished(events, 120_000), bad[i][3]);
      const after = await Job.fromId(queue, job.id as string);
      assert.equal(after?.attemptsStarted, 1, `${job.id}: not retried`);
      assert.match(after?.failedReason ?? '', /^invalid job "/);
    }
    await events.close();
    await closeRedisClient(eventsClient); // BullMQ leaves a client it was given open
    const exec = executor();
    const [record] = await exec.run([spec], { resultsDir: tempResults() });
    await exec.close();
    assert.equal(record.status, 'complete', 'a good job after the bad ones runs');
    assert.ok(
      workers.every((w) => w.alive()),
      'no worker crashed',
    );
    assert.match(workers.map((w) => w.log()).join('\n'), /rejected invalid job "extra-key": data\.module: unknown key\n/);
  },
);

test(
  'redis-server killed and restarted mid-sweep: the sweep completes, nothing lost or run twice',
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const specs = (['sgd', 'sam', 'agsam'] as const).map((name) => tiny(name, 4));
    const exec = executor();
    let restarted: Promise<number> | null = null;
    let finished = 0;
    const records = await exec.run(specs, {
      resultsDir: tempResults(),
      onEvent: (e) => {
        if (e.type !== 'finished') return;
        finished++;
        // At the first record back, while the others train: SIGKILL (no shutdown save) and start again.
        restarted ??= (async () => {
          const pendingAtKill = specs.length - finished;
          await server.kill();
          await server.restart();
          return pendingAtKill;
        })();
      },
    });
    await exec.close();
    assert.ok(restarted !== null);
    assert.ok((await restarted) > 0, 'the restart happened while runs were still pending');
    for (const [i, spec] of specs.entries()) {
      const id = runId(spec);
      assert.equal(records[i].status, 'complete', `${id} complete`);
      assert.equal(startsOf(workers, id), 1, `${id} started once`);
      assert.equal(await queue.getJobState(id), 'completed');
    }
  },
);

/** Waits for the first progress event of `id` in epoch >= 2 and reports the worker that started it. */
function stopWhenInEpoch2(id: string, events: ExecutorEvent[], act: (worker: string) => void): (e: ExecutorEvent) => void {
  let worker = '';
  let acted = false;
  // The 'started' event is announced after a Redis round trip, so on a fast machine the run's
  // progress can overtake it; the worker is then the one whose log says it started the run.
  const runningWorker = (): string =>
    worker !== '' && workers.some((w) => w.name === worker) ? worker : (workers.find((w) => w.log().includes(`started ${id}`))?.name ?? '');
  return (e) => {
    events.push(e);
    if (e.type === 'started' && e.runId === id && worker === '') worker = e.worker;
    if (!acted && e.type === 'progress' && e.progress.runId === id && e.progress.epoch >= 2) {
      const name = runningWorker();
      if (name === '') return;
      acted = true;
      act(name);
    }
  };
}

/** The progress events after the run's second start. */
function progressAfterRestart(events: ExecutorEvent[]): { starts: string[]; after: Progress[] } {
  const starts = events.flatMap((e) => (e.type === 'started' ? [e.worker] : []));
  const second = events.findIndex((e, i) => e.type === 'started' && events.slice(0, i).some((f) => f.type === 'started'));
  const after = events.slice(second).flatMap((e) => (e.type === 'progress' ? [e.progress] : []));
  return { starts, after };
}

test(
  'SIGTERM: the worker finishes its step, writes a checkpoint there, hands the job back and exits; another worker resumes at the next step',
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const spec = long(10);
    const id = runId(spec);
    const events: ExecutorEvent[] = [];
    let stopped: WorkerProcess | undefined;
    const exec = executor();
    const [record] = await exec.run([spec], {
      resultsDir: tempResults(),
      onEvent: stopWhenInEpoch2(id, events, (name) => {
        stopped = workers.find((w) => w.name === name);
        stopped?.child.kill('SIGTERM');
      }),
    });
    await exec.close();
    assert.ok(stopped !== undefined);
    assert.deepEqual(await stopped.exited, { code: 0, signal: null }, 'the worker exits cleanly');
    const handedBack = new RegExp(
      `handed ${id} back to the queue \\(stopped in epoch (\\d+) after step (\\d+), checkpoint written\\)`,
    ).exec(stopped.log());
    assert.ok(handedBack, stopped.log());
    const [epoch, step] = [Number(handedBack[1]), Number(handedBack[2])];
    const { starts, after } = progressAfterRestart(events);
    assert.equal(starts.length, 2);
    assert.notEqual(starts[1], stopped.name, 'resumed on the other worker');
    assert.ok(after.length > 0);
    for (const p of after)
      assert.ok(p.epoch > epoch || (p.epoch === epoch && p.step > step), `step ${p.epoch}/${p.step} was taken before the stop`);
    assert.match(
      workers.find((w) => w.name === starts[1])!.log(),
      new RegExp(`started ${id} \\(attempt 1 of 3\\)`),
      'handing back uses up no attempt',
    );
    assert.deepEqual(
      withoutTimings({ ...record, modelDir: null }),
      withoutTimings(await reference(spec)),
      'the weights (hash) and record of an uninterrupted run',
    );
    workers.splice(workers.indexOf(stopped), 1);
    await addWorker('wC');
  },
);

test(
  'SIGKILL of a worker mid-run: the other worker takes the job over from its last checkpoint and ends at the same weights',
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const spec = long(11);
    const id = runId(spec);
    const events: ExecutorEvent[] = [];
    let killed: WorkerProcess | undefined;
    let checkpointEpoch: Promise<number | undefined> | undefined;
    const exec = executor();
    const [record] = await exec.run([spec], {
      resultsDir: tempResults(),
      onEvent: stopWhenInEpoch2(id, events, (name) => {
        killed = workers.find((w) => w.name === name);
        killed?.killAll(); // the worker and its job runner: a machine that is gone
        checkpointEpoch = (async () => {
          await killed?.exited;
          return (await new RedisCheckpointStore(client, DEFAULT_QUEUE, server.url).load(id))?.data.epoch;
        })();
      }),
    });
    await exec.close();
    assert.ok(killed !== undefined && checkpointEpoch !== undefined);
    assert.equal((await killed.exited).signal, 'SIGKILL');
    const k = await checkpointEpoch;
    assert.ok(k !== undefined && k >= 1 && k < 6, `the run had a checkpoint of epoch ${k} when its worker died`);
    const { starts, after } = progressAfterRestart(events);
    assert.equal(starts.length, 2);
    assert.notEqual(starts[1], killed.name, 'taken over by the other worker');
    assert.ok(after.length > 0);
    assert.equal(
      Math.min(...after.map((p) => p.epoch)),
      k + 1,
      `resumed in epoch ${k + 1}: the ${k} epoch(s) before the kill are not run again`,
    );
    assert.match(workers.find((w) => w.name === starts[1])!.log(), new RegExp(`started ${id} \\(attempt 1 of 3, after 1 lost worker\\)`));
    assert.deepEqual(
      withoutTimings({ ...record, modelDir: null }),
      withoutTimings(await reference(spec)),
      'the weights (hash) and record of an uninterrupted run',
    );
    workers.splice(workers.indexOf(killed), 1);
  },
);
