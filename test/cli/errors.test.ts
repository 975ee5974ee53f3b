import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);
import { main } from '../../src/cli/program.js';

/**
 * Runs the CLI in this process (fast: no new node per case) and captures its stderr. stdout is left
 * alone: the test runner reports through it.
 */
async function inProcess(args: string[]): Promise<{ code: number; stdout: null; stderr: string }> {
  let stderr = '';
  const err = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string | Uint8Array) => ((stderr += String(chunk)), true)) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'flatminima', ...args]);
    return { code, stdout: null, stderr };
  } finally {
    process.stderr.write = err;
  }
}

const dir = tempDir('errors');
const badSpec = join(dir, 'bad.json');
writeFileSync(
  badSpec,
  JSON.stringify({
    dataset: { name: 'moons', n: -5 },
    model: 'mlp',
    optimizer: { name: 'foo', rho: -1 },
    base: { name: 'sgd', learningRate: 0.1 },
    epochs: 1.5,
    batchSize: 8,
    seed: 0,
    extra: 1,
  }),
);
const notJson = join(dir, 'broken.json');
writeFileSync(notJson, '{"dataset": ');

/** [arguments, patterns every one of which the stderr must match]. */
const cases: [string[], RegExp[]][] = [
  [
    ['train', '--optimizer', 'foo'],
    [/--optimizer/, /'foo' is invalid/, /sgd, sam, asam, gsam, agsam/],
  ],
  [
    ['train', '--rho', '-1', '--optimizer', 'sam'],
    [/--rho/, /'-1' is invalid/, />= 0/],
  ],
  [
    ['compare', '--seeds', '1.5'],
    [/--seeds/, /'1\.5' is invalid/, /whole number >= 1/],
  ],
  [
    ['compare', '--jobs', '0'],
    [/--jobs/, /whole number >= 1/],
  ],
  [
    ['train', '--epochs', 'abc'],
    [/--epochs/, /Expected a number/],
  ],
  [
    ['train', '--lr', '0'],
    [/--lr/, /> 0/],
  ],
  [
    ['train', '--test-fraction', '1'],
    [/--test-fraction/, /strictly between 0 and 1/],
  ],
  [
    ['train', '--alpha', '0.1', '--optimizer', 'sam'],
    [/--alpha does not apply to --optimizer sam/, /gsam, agsam/],
  ],
  [
    ['compare', '--optimizers', 'sgd,bogus'],
    [/--optimizers/, /Unknown 'bogus'/, /sgd, sam, asam, gsam, agsam/],
  ],
  [['compare', '--optimizers', 'sgd,sgd'], [/'sgd' is listed twice/]],
  [['compare', '--optimizers', 'sgd', '--rho', '0.1'], [/--rho applies to none of --optimizers sgd/]],
  [['train', '--dataset', 'idx'], [/--dataset idx needs --data-dir/]],
  [['train', '--dataset', 'idx', '--data-dir', join(dir, 'nope')], [/--data-dir .*nope: no such directory/]],
  [['train', '--dataset', 'mnist', '--data-dir', dir], [/--data-dir applies only to --dataset idx, not mnist/]],
  [
    ['train', '--dataset', 'moons', '--model', 'cnn'],
    [/--model/, /must be "mlp"/],
  ],
  [['train', '--base', 'adam', '--momentum', '0.5'], [/--momentum applies only to --base momentum/]],
  [
    ['train', '--backend', 'gpu'],
    [/--backend/, /auto, wasm, cpu, tensorflow/],
  ],
  [['train', '--foo'], [/unknown option '--foo'/]],
  [['bogus'], [/unknown command 'bogus'/]],
  [['measure'], [/required option '--run <dir>'/]],
  [['measure', '--run', join(dir, 'nope')], [/--run .*: no such directory/]],
  [['measure', '--run', dir], [/neither a run directory \(record\.json\) nor a model directory/]],
  [['report', join(dir, 'nope')], [/no such directory/]],
  [['train', '--resume', dir], [/--resume .*not a run directory/]],
  [['train', '--spec', join(dir, 'missing.json')], [/--spec .*missing\.json: cannot read the file/]],
  [['train', '--spec', notJson], [/--spec .*broken\.json: not valid JSON/]],
  [
    ['reproduce', '--seeds', '-2'],
    [/--seeds/, /whole number >= 1/],
  ],
  [['compare', '--backend', 'cpu', '--threads', '2'], [/--threads applies to --backend wasm, native or auto, not cpu/]],
];

function checkUsageError(args: string[], patterns: RegExp[], r: { code: number | null; stdout: string | null; stderr: string }): void {
  const what = `flatminima ${args.join(' ')}\nstderr: ${r.stderr}`;
  assert.equal(r.code, 2, what);
  for (const p of patterns) assert.match(r.stderr, p, what);
  assert.match(r.stderr, /^error: /m, what);
  assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, `no stack trace: ${what}`);
  if (r.stdout !== null) assert.equal(r.stdout, '', what);
}

test('bad arguments: exit code 2, one clear message naming the flag, no stack trace (in process)', async () => {
  for (const [args, patterns] of cases) checkUsageError(args, patterns, await inProcess(args));
});

test('bad arguments in a real child process: exit code 2, message on stderr, no stack trace', async () => {
  const wanted = ['train --optimizer foo', 'train --rho -1 --optimizer sam', 'compare --optimizers sgd,bogus', 'measure'];
  const picked = cases.filter(([args]) => wanted.includes(args.join(' ')));
  assert.equal(picked.length, wanted.length);
  const results = await Promise.all(picked.map(([args]) => cli(args)));
  for (const [i, [args, patterns]] of picked.entries()) checkUsageError(args, patterns, results[i]!);
});

test('a bad spec file: one message per bad field, each naming the file and field', async () => {
  const r = await cli(['train', '--spec', badSpec]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n');
  const expectFields = ['dataset.n', 'optimizer.name', 'optimizer.rho', 'epochs', 'extra'];
  assert.equal(lines.length, expectFields.length, r.stderr);
  for (const [i, field] of expectFields.entries()) {
    assert.ok(lines[i]!.startsWith(`error: --spec ${badSpec}: ${field}: `), lines[i]);
  }
});

test('--help and --version exit 0', async () => {
  const [help, version, trainHelp] = await Promise.all([cli(['--help']), cli(['--version']), cli(['train', '--help'])]);
  assert.equal(help.code, 0);
  for (const c of ['train', 'compare', 'reproduce', 'measure', 'report']) assert.match(help.stdout, new RegExp(`\\b${c}\\b`));
  assert.equal(version.code, 0);
  assert.match(version.stdout, /^\d+\.\d+\.\d+/);
  assert.equal(trainHelp.code, 0);
  for (const flag of ['--optimizer', '--rho', '--alpha', '--eta', '--gamma', '--lr-schedule', '--resume', '--backend', '--threads']) {
    assert.ok(trainHelp.stdout.includes(flag), `train --help lists ${flag}`);
  }
});
