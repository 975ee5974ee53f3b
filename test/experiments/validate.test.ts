import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRunSpec, ValidationError } from '../../src/experiments/validate.js';
import { Rng } from '../../src/util/random.js';
import { tinySpec } from './helpers.js';

function issuesOf(value: unknown): string[] {
  try {
    parseRunSpec(value);
  } catch (err) {
    assert.ok(err instanceof ValidationError, `expected a ValidationError, got ${String(err)}`);
    return err.issues;
  }
  return [];
}

test('a valid spec parses unchanged', () => {
  assert.deepEqual(parseRunSpec(tinySpec()), tinySpec());
});

test('one message per bad field, each naming its path', () => {
  const bad = { ...tinySpec(), epochs: 0, batchSize: 'x', extra: 1, base: { name: 'rmsprop', learningRate: -1 } };
  const issues = issuesOf(bad);
  assert.ok(
    issues.some((l) => l.startsWith('epochs:')),
    issues.join('\n'),
  );
  assert.ok(
    issues.some((l) => l.startsWith('batchSize:')),
    issues.join('\n'),
  );
  assert.ok(
    issues.some((l) => l.startsWith('base.name:')),
    issues.join('\n'),
  );
  assert.ok(
    issues.some((l) => l.startsWith('base.learningRate:')),
    issues.join('\n'),
  );
  assert.ok(issues.includes('extra: unknown key'), issues.join('\n'));
  assert.equal(issues.length, 5, issues.join('\n'));
});

test('cross-field rules: idx needs a dir, moons needs the mlp, options only where they apply', () => {
  assert.match(issuesOf({ ...tinySpec(), dataset: { name: 'idx' } }).join('\n'), /dataset\.dir: required/);
  assert.match(issuesOf({ ...tinySpec(), model: 'cnn' }).join('\n'), /^model: moons/m);
  assert.match(issuesOf({ ...tinySpec(), optimizer: { name: 'sam', alpha: 0.1 } }).join('\n'), /optimizer\.alpha/);
  assert.match(issuesOf({ ...tinySpec(), optimizer: { name: 'agsam', eta: 0.1 } }).join('\n'), /optimizer\.eta/);
  assert.match(
    issuesOf({ ...tinySpec(), optimizer: { name: 'gsam', rho: 0.05, rhoMin: 0.1, rhoSchedule: 'proportional' } }).join('\n'),
    /rhoMin: must be <= optimizer\.rho/,
  );
  assert.deepEqual(issuesOf({ ...tinySpec(), optimizer: { name: 'agsam', ascent: 'adaptive', eta: 0.1, scope: 'all' } }), []);
});

/** Damages one random spot of a valid spec: delete, retype, out-of-range, unknown key, or junk. */
function damage(value: unknown, rng: Rng): unknown {
  const junk = [null, -1, 0, 1.5, 1e308, -Infinity, NaN, '', 'x', [], {}, true, { name: 'moons' }, [1, 2]];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return junk[rng.int(junk.length)];
  const obj = { ...(value as Record<string, unknown>) };
  const keys = Object.keys(obj);
  const action = rng.int(4);
  if (action === 0 || keys.length === 0) obj[`k${rng.int(100)}`] = junk[rng.int(junk.length)];
  else {
    const key = keys[rng.int(keys.length)];
    if (action === 1) delete obj[key];
    else if (action === 2) obj[key] = junk[rng.int(junk.length)];
    else obj[key] = damage(obj[key], rng);
  }
  return obj;
}

test('fuzz: 400 randomly damaged specs each give a clean validation error or are valid', () => {
  const rng = new Rng(12345);
  let rejected = 0;
  for (let i = 0; i < 400; i++) {
    let spec: unknown = tinySpec({ optimizer: { name: (['sgd', 'sam', 'asam', 'gsam', 'agsam'] as const)[i % 5] } });
    const hits = 1 + rng.int(3);
    for (let h = 0; h < hits; h++) spec = damage(spec, rng);
    try {
      parseRunSpec(spec);
    } catch (err) {
      assert.ok(err instanceof ValidationError, `spec ${JSON.stringify(spec)} threw ${String(err)}`);
      assert.ok(err.issues.length > 0 && err.issues.every((l) => /^[^:]+: \S/.test(l)), err.message);
      rejected++;
    }
  }
  assert.ok(rejected > 300, `only ${rejected} of 400 damaged specs were rejected`);
});
