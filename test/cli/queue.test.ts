/**
 * `sweep --redis` and `compare --redis` from the command line, as the README has a user run them,
 * against a real redis-server that requires a password, with a real `flatminima worker` taking the
 * runs. The password (with characters a URL must encode) appears in the URL given to every command,
 * and must appear nowhere in what they print or in any file written (results, the worker's scratch
 * folder, Redis's own append-only file).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EXIT_FAILURE, EXIT_PENDING } from '../../src/cli/errors.js';
import { REDIS_SKIP, startRedis, type RedisServer } from '../experiments/queue/redisServer.js';
import { startWorker, type WorkerProcess } from '../experiments/queue/workerProcess.js';
import { cli, removeTempDirs, tempDir, type CliResult } from './helpers.js';

const PASSWORD = 'Pa55:w/rd@flat+minima?';
const WRONG = 'not-the-Pa55word';
let server: RedisServer;
let worker: WorkerProcess;
let url: string;
let scratch: string;
let checkpoints: string;
const outputs: CliResult[] = [];
/** Every folder this file had written to (scanned by the last test). */
const folders: string[] = [];

function folder(prefix: string): string {
  const dir = tempDir(prefix);
  folders.push(dir);
  return dir;
}

/** Every file under `dir`, recursively. */
function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

async function run(args: string[], opts: { env?: Record<string, string> } = {}): Promise<CliResult> {
  const r = await cli(args, { timeoutMs: 300_000, ...opts });
  outputs.push(r);
  return r;
}

before(async () => {
  if (REDIS_SKIP) return;
  server = await startRedis({ durable: true, password: PASSWORD });
  url = `redis://default:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}`;
  scratch = folder('worker-scratch');
  checkpoints = folder('shared-checkpoints');
  // The worker gets the URL from the environment, the submitters by flag: both ways are covered. Its
  // checkpoints go to a shared directory (--checkpoint-dir) rather than Redis.
  worker = startWorker('wP', ['--concurrency', '2', '--scratch-dir', scratch, '--checkpoint-dir', checkpoints], { FLATMINIMA_REDIS: url });
  await worker.ready;
});

after(async () => {
  if (REDIS_SKIP) return;
  await worker.stop();
  await server.stop();
  removeTempDirs();
});

test('sweep --redis runs the sweep on the worker and reports as the local pool does', { skip: REDIS_SKIP, timeout: 300_000 }, async () => {
  const dir = folder('qsweep');
  const file = join(dir, 'tiny.json');
  writeFileSync(
    file,
    JSON.stringify({
      base: { dataset: { name: 'moons', n: 200 }, epochs: 1, batchSize: 32, measureExamples: 0 },
      grid: { 'optimizer.name': ['sam', 'gsam'] },
      seeds: 1,
    }),
  );
  const results = join(dir, 'results');
  const r = await run(['sweep', file, '--redis', url, '--backend', 'cpu', '--results', results]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /queue flatminima-runs on redis:\/\/default:\*\*\*@127\.0\.0\.1:\d+/);
  assert.equal((r.stderr.match(/: started on wP/g) ?? []).length, 2, r.stderr);
  assert.match(r.stdout, /\| SAM \| \(single point\) \| 1\/1 \| 0 \|/);
  assert.match(r.stdout, /report: .*report\.html/);
  // Checkpoints went to the shared directory, one folder per run, and are deleted once the worker
  // has seen each job completed (just after the submitter may have its record: wait for that).
  const runFolders = readdirSync(checkpoints);
  assert.equal(runFolders.filter((d) => /^moons-mlp-(sam|gsam)-seed0-/.test(d)).length, 2, runFolders.join(','));
  const leftOver = (): string[] => runFolders.filter((d) => readdirSync(join(checkpoints, d)).length > 0);
  const deadline = Date.now() + 30_000;
  while (leftOver().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(leftOver(), [], 'checkpoints left behind');
});

test(
  'compare --redis: --detach submits and exits, a waiting run gathers the records, --collect finds them all',
  { skip: REDIS_SKIP, timeout: 300_000 },
  async () => {
    const results = folder('qcompare');
    const args = [
      'compare',
      '--optimizers',
      'sgd,sam',
      '--seeds',
      '1',
      '--n',
      '200',
      '--epochs',
      '1',
      '--measure',
      '0',
      '--backend',
      'cpu',
      '--results',
      results,
      '--redis',
      url,
    ];
    const detached = await run([...args, '--detach']);
    assert.equal(detached.code, 0, detached.stderr);
    assert.match(detached.stderr, /submitted to queue flatminima-runs on redis:\/\/default:\*\*\*@[^:]+:\d+: 2 new, 0 already queued/);
    assert.match(detached.stderr, /gather the records: flatminima compare .* --redis redis:\/\/default:\*\*\*@.* --collect/);
    const waited = await run(args);
    assert.equal(waited.code, 0, waited.stderr);
    assert.match(waited.stdout, /\| SGD \|/);
    const collected = await run([...args, '--collect']);
    assert.equal(collected.code, 0, collected.stderr);
    assert.match(collected.stderr, /collected: all 2 runs have their record/);
  },
);

test('--collect of runs nobody submitted says so and exits with the pending code', { skip: REDIS_SKIP, timeout: 300_000 }, async () => {
  const results = folder('qpending');
  const r = await run([
    'compare',
    '--optimizers',
    'asam',
    '--seeds',
    '1',
    '--first-seed',
    '9',
    '--n',
    '200',
    '--epochs',
    '1',
    '--results',
    results,
    '--redis',
    url,
    '--collect',
  ]);
  assert.equal(r.code, EXIT_PENDING, r.stderr);
  assert.match(r.stderr, /collected 0 of 1 runs .*; 1 not finished:\n {2}moons-mlp-asam-seed9-[0-9a-f]{8}: not submitted\n/);
});

test('a wrong password is refused at once with a masked message', { skip: REDIS_SKIP, timeout: 300_000 }, async () => {
  const wrongUrl = `redis://default:${WRONG}@127.0.0.1:${server.port}`;
  const r = await run(
    ['compare', '--optimizers', 'sgd', '--seeds', '1', '--n', '200', '--epochs', '1', '--results', folder('qwrong'), '--collect'],
    { env: { FLATMINIMA_REDIS: wrongUrl } },
  );
  assert.equal(r.code, EXIT_FAILURE, r.stderr);
  assert.match(r.stderr, /error: Redis at redis:\/\/default:\*\*\*@127\.0\.0\.1:\d+ refused the credentials: WRONGPASS/);
  assert.ok(!r.stderr.includes(WRONG) && !r.stdout.includes(WRONG));
});

test('the password appears in no output and no file written', { skip: REDIS_SKIP, timeout: 300_000 }, async () => {
  const forms = [PASSWORD, encodeURIComponent(PASSWORD)];
  const printed = [...outputs.flatMap((o) => [o.stdout, o.stderr]), worker.log()];
  assert.ok(outputs.length >= 5 && worker.log().includes('finished'), 'the commands above ran');
  for (const text of printed) for (const f of forms) assert.ok(!text.includes(f), `printed: ${text}`);
  const written = [...folders, server.dir].flatMap(files);
  assert.ok(
    written.some((f) => f.endsWith('record.json')) && written.some((f) => /appendonly/.test(f)),
    'records and the AOF were scanned',
  );
  for (const path of written) {
    const bytes = readFileSync(path);
    for (const f of forms) assert.ok(!bytes.includes(Buffer.from(f)), `${path} holds the password`);
  }
});
