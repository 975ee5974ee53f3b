/** A queue job is input: only `{ format, spec, backend, checkpointEvery }` named 'run', with its run id as id, gets through. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunJob, runJobData, showJobId } from '../../../src/experiments/queue/jobSchema.js';
import { runId } from '../../../src/experiments/runId.js';
import { ValidationError } from '../../../src/experiments/validate.js';
import { tinySpec } from '../helpers.js';

const spec = tinySpec();
const good = { id: runId(spec), name: 'run', data: runJobData(spec, 'cpu', 1) };

/** The issue lines of the ValidationError `fn` throws. */
function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return err.issues;
  }
  assert.fail('no error thrown');
}

test('a well-formed job parses to its spec, backend and checkpoint interval', () => {
  assert.deepEqual(parseRunJob(good), { id: runId(spec), spec, backend: 'cpu', checkpointEvery: 1 });
});

test('every way a job can be malformed is named', () => {
  assert.deepEqual(
    issues(() => parseRunJob({ ...good, name: 'exec' })),
    ['name: must be "run", got "exec"'],
  );
  assert.deepEqual(
    issues(() => parseRunJob({ ...good, data: { ...good.data, command: 'rm -rf /' } })),
    ['data.command: unknown key'],
  );
  assert.deepEqual(
    issues(() => parseRunJob({ ...good, data: 'run this' })),
    ['data: Invalid input: expected object, received string'],
  );
  const wrongFormat = issues(() => parseRunJob({ ...good, data: { ...good.data, format: 2 } }));
  assert.equal(wrongFormat.length, 1);
  assert.match(wrongFormat[0], /^data\.format: /);
  assert.match(issues(() => parseRunJob({ ...good, data: { ...good.data, backend: 'gpu' } }))[0], /^data\.backend: /);
  assert.match(issues(() => parseRunJob({ ...good, data: { ...good.data, checkpointEvery: 0 } }))[0], /^data\.checkpointEvery: /);
  const badSpec = issues(() => parseRunJob({ ...good, data: { ...good.data, spec: { ...spec, epochs: -1, evil: 'x' } } }));
  assert.ok(badSpec.includes('data.spec.evil: unknown key'), badSpec.join('\n'));
  assert.ok(
    badSpec.some((l) => l.startsWith('data.spec.epochs: ')),
    badSpec.join('\n'),
  );
  assert.deepEqual(
    issues(() => parseRunJob({ ...good, id: 'someone-elses-run' })),
    [`id: must be the run id of its spec, ${runId(spec)}`],
  );
});

test('a hostile job id is shown quoted and cut short', () => {
  assert.equal(showJobId('a\nb'), '"a\\nb"');
  assert.equal(showJobId('x'.repeat(200)).length, 80);
});
