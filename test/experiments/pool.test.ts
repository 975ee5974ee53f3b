import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../src/experiments/checkpoint.js';
import { runMany } from '../../src/experiments/pool.js';
import { runId, type Progress } from '../../src/experiments/runner.js';
import { RunRecordSchema } from '../../src/experiments/schema.js';
import { readRecords } from '../../src/experiments/store.js';
import { ValidationError } from '../../src/experiments/validate.js';
import { tempResults, tinySpec } from './helpers.js';

const parentFixture = fileURLToPath(new URL('./fixtures/poolParent.ts', import.meta.url));

test('runMany with jobs 2 runs 4 specs in child processes, records in spec order, failures kept', async () => {
  const dir = tempResults();
  const specs = [
    tinySpec({ seed: 3, dataset: { name: 'moons', n: 200 } }),
    tinySpec({ seed: 4, optimizer: { name: 'gsam' }, dataset: { name: 'moons', n: 200 } }),
    // A run that fails inside its worker (no such IDX directory): it must come back, not vanish.
    tinySpec({ dataset: { name: 'idx', dir: '/nonexistent/idx-dir' }, model: 'cnn' }),
    tinySpec({ seed: 5, base: { name: 'sgd', learningRate: 1e12 }, dataset: { name: 'moons', n: 200 } }),
  ];
  const progress: Progress[] = [];
  const records = await runMany(specs, { resultsDir: dir, jobs: 2, backend: 'cpu', onProgress: (p) => progress.push(p) });
  assert.deepEqual(
    records.map((r) => r.runId),
    specs.map(runId),
  );
  for (const r of records) RunRecordSchema.parse(r);
  assert.deepEqual(
    records.map((r) => r.status),
    ['complete', 'complete', 'running', 'diverged'],
  );
  assert.match(records[2].error ?? '', /nonexistent\/idx-dir/);
  assert.equal(records[3].divergence?.epoch, 1);
  // Every run that trained reported its progress, ending at its last step.
  for (const i of [0, 1]) {
    const last = progress.filter((p) => p.runId === records[i].runId).at(-1);
    assert.deepEqual(last && [last.epoch, last.step], [2, 5]);
  }
  assert.equal(readRecords(dir).length, 4);
  // Re-running the same list returns the finished runs at once (no training progress).
  const again: Progress[] = [];
  const second = await runMany(specs.slice(0, 2), { resultsDir: dir, jobs: 2, backend: 'cpu', onProgress: (p) => again.push(p) });
  assert.equal(again.length, 0);
  assert.deepEqual(second, records.slice(0, 2));
});

test('runMany checks every spec and its options before running anything', async () => {
  const dir = tempResults();
  await assert.rejects(runMany([tinySpec(), { ...tinySpec(), epochs: 0 }], { resultsDir: dir, jobs: 1 }), (err: unknown) => {
    assert.ok(err instanceof ValidationError);
    assert.deepEqual(
      err.issues.map((l) => l.split(':')[0]),
      ['[1].epochs'],
    );
    return true;
  });
  await assert.rejects(runMany([tinySpec()], { resultsDir: dir, jobs: 0 }), /jobs must be a positive integer/);
  assert.deepEqual(readRecords(dir), []);
});

/** Pids of the live (not zombie) children of `pid`, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = procStat(Number(entry));
    if (stat !== null && stat.ppid === pid && stat.state !== 'Z') out.push(Number(entry));
  }
  return out;
}

/** State letter and parent pid of a process, or null when it is gone. */
function procStat(pid: number): { state: string; ppid: number } | null {
  try {
    // Fields after the parenthesised command name (which may itself hold spaces): state, ppid, ...
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state, ppid] = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid) };
  } catch {
    return null;
  }
}

/** The command line of a process ('' when it is gone). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
  } catch {
    return '';
  }
}

/** Whether `pid` still runs (a zombie waiting to be reaped has stopped running). */
function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== 'Z';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test(
  'a pool worker whose parent is killed (SIGTERM to the parent only) stops within seconds, checkpoint intact',
  { skip: process.platform !== 'linux' && 'reads /proc' },
  async () => {
    const dir = tempResults();
    // 1000 epochs of 40 steps: minutes of work, so only the parent's death can end it within the test.
    const spec = tinySpec({ epochs: 1000, batchSize: 8, optimizer: { name: 'sgd' } });
    const specPath = join(dir, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    const parent = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), parentFixture, specPath, dir], { stdio: 'ignore' });
    const parentExit = new Promise<void>((resolve) => parent.on('exit', () => resolve()));
    const checkpointFile = join(dir, runId(spec), CHECKPOINT_FILE);
    let workers: number[] = [];
    try {
      const deadline = Date.now() + 60_000;
      while (!existsSync(checkpointFile) && parent.exitCode === null && Date.now() < deadline) await sleep(50);
      assert.ok(existsSync(checkpointFile), 'the worker never finished its first epoch');
      // Only the pool's worker: tsx may run an esbuild service as another child of the parent.
      workers = childrenOf(parent.pid!).filter((pid) => commandLine(pid).includes('experiments/worker.'));
      assert.equal(workers.length, 1, `expected one worker process, found [${workers.join(', ')}]`);
      parent.kill('SIGTERM');
      await parentExit;
      const killedAt = Date.now();
      while (alive(workers[0]) && Date.now() - killedAt < 5000) await sleep(50);
      assert.ok(!alive(workers[0]), 'the worker still trains 5 s after its parent died');
      const ck = loadCheckpoint(join(dir, runId(spec)));
      assert.ok(ck !== null && ck.data.epoch >= 1 && ck.data.epoch < 1000, 'the last good checkpoint is kept and loads');
    } finally {
      if (parent.exitCode === null && parent.signalCode === null) parent.kill('SIGKILL');
      for (const pid of workers) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  },
);
