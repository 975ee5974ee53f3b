import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDirs, spawnCli, tempDir } from './helpers.js';
import { CHECKPOINT_FILE, loadCheckpoint } from '../../src/experiments/checkpoint.js';
import { readRecordFile } from '../../src/experiments/store.js';

after(removeTempDirs);

/** A CLI process we can signal, with its output so far and its exit. */
interface Running {
  child: ChildProcess;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function start(args: string[]): Running {
  const child = spawnCli(args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { child, stderr: () => stderr, exit };
}

/** Waits until `ready()` holds (or the process ended, or 90 s passed); true when it holds. */
async function waitFor(run: Running, ready: () => boolean): Promise<boolean> {
  const deadline = Date.now() + 90_000;
  while (!ready() && run.child.exitCode === null && run.child.signalCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  return ready();
}

test('Ctrl-C (SIGINT) during train stops at the next step, exit 130, prints the checkpoint and a --resume command that continues it', async () => {
  const results = tempDir('sigint');
  // 200 epochs of 100 SAM steps: far longer than the test, so the SIGINT always lands mid-training.
  const first = start([
    'train',
    '--dataset',
    'moons',
    '--n',
    '2000',
    '--epochs',
    '200',
    '--batch-size',
    '16',
    '--optimizer',
    'sam',
    '--measure',
    '0',
    '--results',
    results,
    '--backend',
    'cpu',
  ]);
  const checkpointed = (): boolean => readdirSync(results).some((d) => existsSync(join(results, d, CHECKPOINT_FILE)));
  try {
    assert.ok(await waitFor(first, checkpointed), `no checkpoint appeared\n${first.stderr()}`);
    const runPath = join(results, readdirSync(results)[0]!);
    first.child.kill('SIGINT');
    const signalledAt = Date.now();
    const r = await first.exit;
    assert.equal(r.code, 130, r.stderr);
    assert.ok(Date.now() - signalledAt < 10_000, 'did not stop promptly');
    assert.match(r.stderr, /interrupted (in epoch \d+\/200 after step \d+\/100|after epoch \d+\/200)\n/);
    const ck = loadCheckpoint(runPath);
    assert.ok(ck !== null, 'no loadable checkpoint');
    assert.ok(ck.data.epoch >= 1 && ck.data.epoch < 200);
    assert.ok(r.stderr.includes(`checkpoint (end of epoch ${ck.data.epoch}/200): ${join(runPath, CHECKPOINT_FILE)}`), r.stderr);
    const command = /resume with: (.+)/.exec(r.stderr)?.[1];
    assert.equal(command, `flatminima train --resume ${runPath} --backend cpu`);
    assert.equal(readRecordFile(join(runPath, 'record.json')).status, 'running');

    // The printed command continues from that checkpoint: its first progress is in the next epoch.
    const resumed = start(command!.split(' ').slice(1));
    const progress = (): RegExpExecArray | null => /: epoch (\d+)\/200 step \d+\/100/.exec(resumed.stderr());
    try {
      assert.ok(await waitFor(resumed, () => progress() !== null), `the resumed run showed no progress\n${resumed.stderr()}`);
      assert.equal(Number(progress()![1]), ck.data.epoch + 1);
      resumed.child.kill('SIGINT');
      const again = await resumed.exit;
      assert.equal(again.code, 130, again.stderr);
      assert.ok(loadCheckpoint(runPath)!.data.epoch >= ck.data.epoch);
    } finally {
      if (resumed.child.exitCode === null && resumed.child.signalCode === null) resumed.child.kill('SIGKILL');
    }
  } finally {
    if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill('SIGKILL');
  }
});
