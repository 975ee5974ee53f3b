/**
 * The playground's settings: the URL hash round-trips every field, keys left out take their
 * defaults (a method's own hyper-parameters included), and bad values are refused with a message
 * naming the field and the allowed values, never clamped.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METHODS } from '../../playground/src/methods.js';
import {
  activeFields,
  crossCheck,
  DEFAULT_SETTINGS,
  fieldByKey,
  FIELDS,
  fromHash,
  parseField,
  toHash,
  withField,
  type Settings,
} from '../../playground/src/settings.js';

test('an empty hash gives the defaults; the defaults hash back to themselves', () => {
  const { settings, problems } = fromHash('');
  assert.deepEqual(problems, []);
  assert.deepEqual(settings, DEFAULT_SETTINGS);
  assert.deepEqual(fromHash(`#${toHash(settings)}`), { settings, problems: [] });
});

test('a hash with every field set round-trips exactly, in race mode too', () => {
  const s: Settings = {
    seed: 7,
    data: 'spiral',
    n: 333,
    noise: 0.125,
    test: 0.3,
    width: 9,
    depth: 2,
    batch: 17,
    every: 40,
    race: true,
    backend: 'cpu',
    a: { opt: 'agsam', base: 'adam', lr: 0.003, rho: 0.7, alpha: 0.25, gamma: 0.02, eta: 0.01 },
    b: { opt: 'asam', base: 'sgd', lr: 0.2, rho: 1.5, alpha: 0.1, gamma: 0.01, eta: 0.05 },
  };
  const hash = toHash(s);
  // Written by hand from the fields above: only the hyper-parameters each method uses appear.
  assert.equal(
    hash,
    'seed=7&data=spiral&n=333&noise=0.125&test=0.3&width=9&depth=2&batch=17&every=40&race=1&backend=cpu' +
      '&opt=agsam&base=adam&lr=0.003&rho=0.7&alpha=0.25&gamma=0.02&b.opt=asam&b.base=sgd&b.lr=0.2&b.rho=1.5&b.eta=0.05',
  );
  assert.deepEqual(fromHash(hash), { settings: s, problems: [] });
});

test("keys left out take their defaults, a method's hyper-parameters those of that method", () => {
  const { settings, problems } = fromHash('#opt=asam&data=xor');
  assert.deepEqual(problems, []);
  assert.equal(settings.data, 'xor');
  const asam = METHODS.find((m) => m.id === 'asam')!;
  assert.equal(settings.a.rho, asam.defaults.rho);
  assert.equal(settings.a.eta, asam.defaults.eta);
  assert.equal(settings.n, DEFAULT_SETTINGS.n);
});

test('bad values are refused with the field, the allowed values and the text typed', () => {
  assert.deepEqual(parseField('rho', '-0.1'), { ok: false, message: "rho must be a number >= 0 and <= 10, got '-0.1'" });
  assert.deepEqual(parseField('lr', 'abc'), { ok: false, message: "learning rate must be a number > 0 and <= 10, got 'abc'" });
  assert.deepEqual(parseField('lr', '0'), { ok: false, message: "learning rate must be a number > 0 and <= 10, got '0'" });
  assert.deepEqual(parseField('n', '12.5'), { ok: false, message: "points must be an integer from 20 to 5000, got '12.5'" });
  assert.deepEqual(parseField('width', ''), { ok: false, message: "width must be an integer from 1 to 128, got ''" });
  assert.deepEqual(parseField('data', 'mnist'), {
    ok: false,
    message: "dataset must be one of moons, circles, spiral, xor, blobs, got 'mnist'",
  });
  assert.deepEqual(parseField('b.rho', 'Infinity'), { ok: false, message: "rho (B) must be a number >= 0 and <= 10, got 'Infinity'" });
  // Accepted forms: decimals, exponents, surrounding spaces.
  assert.deepEqual(parseField('rho', ' 5e-2 '), { ok: true, value: 0.05 });
  assert.deepEqual(parseField('rho', '.5'), { ok: true, value: 0.5 });
  assert.deepEqual(parseField('rho', '0'), { ok: true, value: 0 });
});

test('every field refuses letters, and every numeric field refuses a value just outside its range', () => {
  for (const f of FIELDS) {
    assert.equal(parseField(f.key, 'zzz').ok, false, `${f.key} refuses 'zzz'`);
    if (f.kind.type !== 'number') continue;
    const below = f.kind.minExclusive ? f.kind.min : f.kind.min - (f.kind.integer ? 1 : 1e-9);
    assert.equal(parseField(f.key, String(below)).ok, false, `${f.key} refuses ${below}`);
    assert.equal(parseField(f.key, String(f.kind.max + (f.kind.integer ? 1 : 1e-9))).ok, false, `${f.key} refuses above max`);
  }
});

test('a link with bad values or unknown keys says so, one line each, and uses the defaults there', () => {
  const { settings, problems } = fromHash('#rho=-1&n=abc&colour=red&width=8');
  assert.equal(settings.a.rho, DEFAULT_SETTINGS.a.rho);
  assert.equal(settings.n, DEFAULT_SETTINGS.n);
  assert.equal(settings.width, 8);
  assert.equal(problems.length, 3);
  assert.match(problems[0]!, /unknown setting 'colour'/);
  assert.match(
    problems.find((p) => p.startsWith('points'))!,
    /points must be an integer from 20 to 5000, got 'abc'; the default is used/,
  );
  assert.match(
    problems.find((p) => p.startsWith('rho'))!,
    /rho must be a number >= 0/,
  );
});

test('the batch may not exceed the training set', () => {
  // 40 points, test share 0.5: ceil(20) test, 20 train, so a batch of 21 is refused and 20 is allowed.
  const s = { ...DEFAULT_SETTINGS, n: 40, test: 0.5 };
  assert.match(
    crossCheck({ ...s, batch: 21 })!,
    /batch size must be at most the number of training points \(20 = 40 points less 20 for testing\), got 21/,
  );
  assert.equal(crossCheck({ ...s, batch: 20 }), null);
  const fromLink = fromHash('#n=40&test=0.5&batch=64');
  assert.equal(fromLink.settings.batch, 20);
  assert.match(fromLink.problems[0]!, /batch size 20 is used/);
});

test("choosing another method resets that side's hyper-parameters to the method's defaults", () => {
  const s = withField(withField(DEFAULT_SETTINGS, 'rho', 0.9), 'opt', 'gsam');
  const gsam = METHODS.find((m) => m.id === 'gsam')!;
  assert.equal(s.a.rho, gsam.defaults.rho);
  assert.equal(s.a.alpha, gsam.defaults.alpha);
  assert.equal(s.a.lr, DEFAULT_SETTINGS.a.lr, 'base and learning rate are kept');
});

test("side B's fields and unused hyper-parameters are inactive", () => {
  const keys = (s: Settings) => activeFields(s).map((f) => f.key);
  assert.ok(!keys(DEFAULT_SETTINGS).some((k) => k.startsWith('b.')));
  assert.ok(keys({ ...DEFAULT_SETTINGS, race: true }).includes('b.alpha'), 'side B defaults to GSAM, which uses alpha');
  assert.ok(!keys(DEFAULT_SETTINGS).includes('alpha'), 'SAM has no alpha');
  assert.ok(!keys(withField(DEFAULT_SETTINGS, 'opt', 'sgd')).includes('rho'), 'SGD has no rho');
  assert.throws(() => fieldByKey('nope'), RangeError);
});
