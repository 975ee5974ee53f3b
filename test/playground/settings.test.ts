/**
 * The playground's settings: the URL hash round-trips every field, keys left out take their
 * defaults (a method's own hyper-parameters included), and bad values are refused with a message
 * naming the field and the allowed values, never clamped. The methods and their fields come from
 * the package's method table: every method is offered, with its rules' ranges and its defaults.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { METHODS as TABLE, SPEC_FIELDS } from 'flatminima';
import { INTEGER_CAP, LEFT_OUT, METHODS, methodById, REAL_CAP } from '../../playground/src/methods.js';
import {
  activeFields,
  crossCheck,
  crossProblems,
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
    a: { opt: 'agsam', base: 'adam', lr: 0.003, rho: 0.7, alpha: 0.25, gamma: 0.02, interval: 3 },
    b: { opt: 'asam', base: 'sgd', lr: 0.2, rho: 1.5, eta: 0.05, interval: 1 },
  };
  const hash = toHash(s);
  // Written by hand from the fields above: only the hyper-parameters each method uses appear.
  assert.equal(
    hash,
    'seed=7&data=spiral&n=333&noise=0.125&test=0.3&width=9&depth=2&batch=17&every=40&race=1&backend=cpu' +
      '&opt=agsam&base=adam&lr=0.003&rho=0.7&alpha=0.25&gamma=0.02&interval=3' +
      '&b.opt=asam&b.base=sgd&b.lr=0.2&b.rho=1.5&b.eta=0.05&b.interval=1',
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
    const above = f.kind.maxExclusive ? f.kind.max : f.kind.max + (f.kind.integer ? 1 : 1e-9);
    assert.equal(parseField(f.key, String(below)).ok, false, `${f.key} refuses ${below}`);
    assert.equal(parseField(f.key, String(above)).ok, false, `${f.key} refuses ${above}`);
    // And takes its bounds where they are inclusive.
    if (!f.kind.minExclusive) assert.equal(parseField(f.key, String(f.kind.min)).ok, true, `${f.key} takes ${f.kind.min}`);
    if (!f.kind.maxExclusive) assert.equal(parseField(f.key, String(f.kind.max)).ok, true, `${f.key} takes ${f.kind.max}`);
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

test("the picker offers every method of the package's table, in its order, with its labels", () => {
  const names = TABLE.map((r) => r.name);
  assert.ok(names.includes('looksam') && names.includes('msam') && names.includes('esam'));
  for (const key of ['opt', 'b.opt']) {
    const kind = fieldByKey(key).kind;
    assert.equal(kind.type, 'choice');
    assert.deepEqual(kind.type === 'choice' ? [...kind.choices] : [], names, `${key} offers the table's methods`);
  }
  for (const r of TABLE) {
    const m = methodById(r.name);
    assert.deepEqual([m.label, m.colour, m.perturbs], [r.label, r.colour, r.perturbs], r.name);
  }
});

test("each method's form fields are its number fields with their rules' ranges and the row's defaults", () => {
  for (const r of TABLE) {
    const m = methodById(r.name);
    const rowDefaults = r.defaults as Record<string, unknown>;
    for (const field of m.uses) {
      const rule = r.fields[field]!.rule;
      assert.equal(rule.type, 'number', `${r.name}.${field} is a number field`);
      assert.equal(m.defaults[field], rowDefaults[field] ?? rule.default, `${r.name}.${field}'s default`);
      const kind = fieldByKey(field).kind;
      assert.ok(kind.type === 'number' && rule.type === 'number');
      const cap = rule.range.integer ? INTEGER_CAP : REAL_CAP;
      assert.equal(kind.integer, rule.range.integer === true, `${field}: integer`);
      assert.equal(kind.min, rule.range.min, `${field}: min`);
      assert.equal(kind.max, rule.range.max ?? cap, `${field}: max, or the playground's cap`);
      assert.equal(kind.minExclusive === true, rule.range.minExclusive === true, `${field}: min exclusive`);
      assert.equal(fieldByKey(field).help, rule.help);
    }
    // Every number default the row states is shown (nothing it sets is hidden from the form).
    for (const [field, value] of Object.entries(rowDefaults)) {
      if (typeof value === 'number' && !(field in LEFT_OUT)) assert.ok(m.uses.includes(field as never), `${r.name} shows ${field}`);
    }
  }
  assert.deepEqual(methodById('looksam').uses, ['rho', 'k', 'looksamAlpha', 'interval']);
  assert.deepEqual(methodById('esam').uses, ['rho', 'beta', 'esamGamma', 'interval']);
  assert.deepEqual(methodById('msam').uses, ['rho', 'interval']);
  // Adaptive-GSAM's eta belongs to its 'adaptive' climb; the form keeps the elementwise one.
  assert.deepEqual(methodById('agsam').uses, ['rho', 'alpha', 'gamma', 'interval']);
  assert.deepEqual(methodById('sgd').uses, []);
  for (const left of ['rhoSchedule', 'rhoMin', 'accumulation', 'microBatches', 'climbProbability']) {
    assert.ok(left in SPEC_FIELDS, `${left} is a field of the table`);
    assert.throws(() => fieldByKey(left), RangeError, `${left} is not a setting of the playground`);
  }
});

test("every method's defaults round-trip through the URL hash, in either side", () => {
  assert.equal(METHODS.length, TABLE.length);
  for (const r of TABLE) {
    const s = withField(withField(DEFAULT_SETTINGS, 'opt', r.name), 'race', '1');
    const both = withField(s, 'b.opt', r.name);
    const m = methodById(r.name);
    assert.deepEqual(both.a, { opt: r.name, base: 'momentum', lr: DEFAULT_SETTINGS.a.lr, ...m.defaults });
    const hash = toHash(both);
    assert.match(hash, new RegExp(`(^|&)opt=${r.name}(&|$)`));
    for (const field of m.uses) assert.match(hash, new RegExp(`(^|&)b\\.${field}=${m.defaults[field]}(&|$)`));
    assert.deepEqual(fromHash(hash), { settings: both, problems: [] }, r.name);
  }
  const looksam = fromHash('#opt=looksam&k=5&looksamAlpha=0.7');
  assert.deepEqual(looksam.problems, []);
  assert.deepEqual(looksam.settings.a, { opt: 'looksam', base: 'momentum', lr: 0.05, rho: 0.05, k: 5, looksamAlpha: 0.7, interval: 1 });
  const keys = activeFields(looksam.settings).map((f) => f.key);
  assert.ok(keys.includes('k') && keys.includes('looksamAlpha') && !keys.includes('alpha') && !keys.includes('beta'));
});

test("bad values of the variants' fields are refused, naming the field and what is allowed", () => {
  assert.deepEqual(parseField('k', '0'), { ok: false, message: "k must be an integer from 1 to 1000, got '0'" });
  assert.deepEqual(parseField('k', '2.5'), { ok: false, message: "k must be an integer from 1 to 1000, got '2.5'" });
  assert.deepEqual(parseField('beta', '1.5'), { ok: false, message: "beta must be a number > 0 and <= 1, got '1.5'" });
  assert.deepEqual(parseField('esamGamma', '0'), { ok: false, message: "esamGamma must be a number > 0 and <= 1, got '0'" });
  assert.deepEqual(parseField('b.interval', '0'), { ok: false, message: "interval (B) must be an integer from 1 to 1000, got '0'" });
  assert.deepEqual(parseField('esamGamma', '1'), { ok: true, value: 1 });
  assert.deepEqual(parseField('k', '1000'), { ok: true, value: 1000 });
  const link = fromHash('#opt=looksam&k=2.5&looksamAlpha=0.3');
  assert.equal(link.settings.a.k, 5, "LookSAM's default k");
  assert.equal(link.settings.a.looksamAlpha, 0.3);
  assert.deepEqual(link.problems, ["k must be an integer from 1 to 1000, got '2.5'; the default is used"]);
});

test("a hyper-parameter the side's method does not take is refused, never silently kept", () => {
  const link = fromHash('#opt=sam&k=3&rho=0.1');
  assert.equal(link.settings.a.rho, 0.1);
  assert.equal(link.settings.a.k, undefined);
  assert.deepEqual(link.problems, ['k is not a setting of SAM (its settings: rho, interval); ignored']);
  assert.throws(() => withField(DEFAULT_SETTINGS, 'k', 3), /k is not a setting of SAM \(its settings: rho, interval\)/);
});

test("the methods' own checks: MomentumSAM with base adam is refused, naming base", () => {
  const msam = withField(DEFAULT_SETTINGS, 'opt', 'msam');
  assert.equal(msam.a.base, 'momentum');
  assert.equal(crossCheck(msam), null);
  for (const base of ['adam', 'sgd']) {
    assert.equal(
      crossCheck(withField(msam, 'base', base)),
      `base optimiser: MomentumSAM climbs along the base's momentum, so it must be "momentum", got "${base}"`,
    );
  }
  assert.deepEqual(
    crossProblems(withField(msam, 'base', 'adam')).map((p) => p.key),
    ['base'],
  );
  // Side B's check names side B's field.
  const raceB = withField(withField(withField(DEFAULT_SETTINGS, 'race', '1'), 'b.opt', 'msam'), 'b.base', 'adam');
  assert.deepEqual(crossProblems(raceB), [
    { key: 'b.base', message: 'base optimiser (B): MomentumSAM climbs along the base\'s momentum, so it must be "momentum", got "adam"' },
  ]);
  // Other methods take any base.
  for (const m of METHODS.filter((x) => x.id !== 'msam')) {
    assert.equal(crossCheck(withField(withField(DEFAULT_SETTINGS, 'opt', m.id), 'base', 'adam')), null, m.id);
  }
});

test('a link with a combination a method refuses says so and falls back to a base it takes', () => {
  const { settings, problems } = fromHash('#opt=msam&base=adam&rho=0.2&lr=0.01');
  assert.deepEqual(settings.a, { opt: 'msam', base: 'momentum', lr: 0.01, rho: 0.2, interval: 1 });
  assert.deepEqual(problems, [
    'base optimiser: MomentumSAM climbs along the base\'s momentum, so it must be "momentum", got "adam"; base optimiser momentum is used',
  ]);
  assert.equal(crossCheck(settings), null);
  const b = fromHash('#race=1&b.opt=msam&b.base=sgd');
  assert.equal(b.settings.b.base, 'momentum');
  assert.match(b.problems[0]!, /^base optimiser \(B\): MomentumSAM .* got "sgd"; base optimiser \(B\) momentum is used$/);
});
