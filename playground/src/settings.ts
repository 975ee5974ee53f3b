/**
 * Every setting of the playground, its allowed values, and its place in the URL hash
 * (`#data=moons&n=400&opt=sam&rho=0.05...`), so that a link reproduces a view. One table of fields
 * drives the parsing of the hash, the checks of the form and the messages; zod composes the checks.
 * The optimiser's hyper-parameters, their ranges and the checks between them and the base come
 * from the package's method table (through methods.ts). Free of DOM code, so Node tests can run it.
 */
import { z } from 'zod';
import { DATASETS } from './datasets.js';
import { BASE_OPTIMIZERS, DEFAULT_BASE, HYPER_FIELDS, METHODS, methodById, type HyperParameter, type HyperValues } from './methods.js';

/** The backends the page can be asked for; 'auto' tries wasm, then webgl, then cpu. */
export const BACKEND_PREFERENCES = ['auto', 'wasm', 'webgl', 'cpu'] as const;
/** A backend preference. */
export type BackendPreference = (typeof BACKEND_PREFERENCES)[number];

/** The settings of one optimiser (race mode has two): its method, base, learning rate and the method's hyper-parameters. */
export interface SideSettings extends HyperValues {
  /** Method id (see METHODS). */
  opt: string;
  /** Base optimiser id (see BASE_OPTIMIZERS). */
  base: string;
  /** Base learning rate. */
  lr: number;
}

/** Everything a view depends on. */
export interface Settings {
  seed: number;
  data: string;
  n: number;
  noise: number;
  test: number;
  width: number;
  depth: number;
  batch: number;
  /** sigma_max and the loss slice are measured every `every` steps. */
  every: number;
  race: boolean;
  backend: BackendPreference;
  a: SideSettings;
  b: SideSettings;
}

/** How one field is written: a number range or a list of choices. */
export type FieldKind =
  | { type: 'number'; integer: boolean; min: number; max: number; minExclusive?: boolean; maxExclusive?: boolean }
  | { type: 'choice'; choices: readonly string[] };

/** One setting: where it lives in {@link Settings}, how it is written, what it is called. */
export interface FieldSpec {
  /** The URL key and the form field's name; side B's fields are prefixed `b.`. */
  readonly key: string;
  readonly label: string;
  readonly kind: FieldKind;
  /** Which side it belongs to, for optimiser fields. */
  readonly side?: 'a' | 'b';
  /** Its name inside Settings (or inside the side). */
  readonly prop: string;
  /** What it does, for the tooltip (the method table's help for hyper-parameters). */
  readonly help?: string;
  /** Whether it is a hyper-parameter of the method table (shown only for the methods that use it). */
  readonly hyper?: boolean;
}

/** A side's fields: the optimiser, its base and learning rate, then every hyper-parameter of the method table. */
const SIDE_FIELDS: readonly { prop: string; label: string; kind: FieldKind; help?: string; hyper?: boolean }[] = [
  { prop: 'opt', label: 'optimiser', kind: { type: 'choice', choices: METHODS.map((m) => m.id) } },
  { prop: 'base', label: 'base optimiser', kind: { type: 'choice', choices: Object.keys(BASE_OPTIMIZERS) } },
  { prop: 'lr', label: 'learning rate', kind: { type: 'number', integer: false, min: 0, minExclusive: true, max: 10 } },
  // Named as in the table (the URL key, the label, the name in messages); ranges from its rules.
  ...Object.values(HYPER_FIELDS).map((h) => ({
    prop: h.name,
    label: h.name,
    kind: { type: 'number' as const, ...h.range },
    help: h.help,
    hyper: true,
  })),
];

/** Every field, in the order the URL lists them. */
export const FIELDS: readonly FieldSpec[] = [
  { key: 'seed', prop: 'seed', label: 'seed', kind: { type: 'number', integer: true, min: 0, max: 2 ** 31 - 1 } },
  { key: 'data', prop: 'data', label: 'dataset', kind: { type: 'choice', choices: DATASETS.map((d) => d.id) } },
  { key: 'n', prop: 'n', label: 'points', kind: { type: 'number', integer: true, min: 20, max: 5000 } },
  { key: 'noise', prop: 'noise', label: 'noise', kind: { type: 'number', integer: false, min: 0, max: 2 } },
  { key: 'test', prop: 'test', label: 'test share', kind: { type: 'number', integer: false, min: 0.05, max: 0.9 } },
  { key: 'width', prop: 'width', label: 'width', kind: { type: 'number', integer: true, min: 1, max: 128 } },
  { key: 'depth', prop: 'depth', label: 'hidden layers', kind: { type: 'number', integer: true, min: 0, max: 6 } },
  { key: 'batch', prop: 'batch', label: 'batch size', kind: { type: 'number', integer: true, min: 1, max: 1024 } },
  { key: 'every', prop: 'every', label: 'measure every', kind: { type: 'number', integer: true, min: 10, max: 10000 } },
  { key: 'race', prop: 'race', label: 'race', kind: { type: 'choice', choices: ['0', '1'] } },
  { key: 'backend', prop: 'backend', label: 'backend', kind: { type: 'choice', choices: BACKEND_PREFERENCES } },
  ...(['a', 'b'] as const).flatMap((side) =>
    SIDE_FIELDS.map((f) => ({
      ...f,
      key: side === 'a' ? f.prop : `b.${f.prop}`,
      label: side === 'a' ? f.label : `${f.label} (B)`,
      side,
    })),
  ),
];

// Side A's keys are the table's field names: a field named like a view setting would share its key.
for (const [i, f] of FIELDS.entries()) {
  const other = FIELDS.findIndex((g) => g.key === f.key);
  if (other !== i)
    throw new Error(`playground: the method table's field '${f.prop}' has the URL key of the setting '${FIELDS[other]!.label}'; rename it`);
}

/** The field named `key`; throws a RangeError for an unknown key. */
export function fieldByKey(key: string): FieldSpec {
  const f = FIELDS.find((x) => x.key === key);
  if (f === undefined) throw new RangeError(`setting must be one of ${FIELDS.map((x) => x.key).join(', ')}, got '${key}'`);
  return f;
}

/** A side with `opt`'s defaults: exactly the hyper-parameters the method uses. */
export function defaultSide(opt: string, base = DEFAULT_BASE, lr = 0.05): SideSettings {
  return { opt, base, lr, ...methodById(opt).defaults };
}

/** The view a link without a hash shows: the report's moons MLP (2-32-32-32-2) trained with SAM. */
export const DEFAULT_SETTINGS: Readonly<Settings> = Object.freeze({
  seed: 0,
  data: 'moons',
  n: 400,
  noise: 0.2,
  test: 0.25,
  width: 32,
  depth: 3,
  batch: 32,
  every: 100,
  race: false,
  backend: 'auto',
  a: defaultSide('sam'),
  b: defaultSide('gsam'),
});

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const INTEGER = /^[+-]?\d+$/;

/** The allowed values of a field, in words. */
export function allowedValues(kind: FieldKind): string {
  if (kind.type === 'choice') return `one of ${kind.choices.join(', ')}`;
  if (kind.integer) return `an integer from ${kind.min} to ${kind.max}`;
  return `a number ${kind.minExclusive ? '>' : '>='} ${kind.min} and ${kind.maxExclusive ? '<' : '<='} ${kind.max}`;
}

/** The zod schema of one field's text: it parses the text and checks the range, with our message. */
function fieldSchema(f: FieldSpec): z.ZodType<string | number> {
  const message = (input: unknown): string => `${f.label} must be ${allowedValues(f.kind)}, got '${String(input)}'`;
  const kind = f.kind;
  if (kind.type === 'choice') return z.enum(kind.choices as [string, ...string[]], { error: (iss) => message(iss.input) });
  return z
    .string()
    .trim()
    .regex(kind.integer ? INTEGER : DECIMAL, { error: (iss) => message(iss.input) })
    .transform(Number)
    .refine(
      (v) => Number.isFinite(v) && (kind.minExclusive ? v > kind.min : v >= kind.min) && (kind.maxExclusive ? v < kind.max : v <= kind.max),
      { error: (iss) => message(iss.input) },
    );
}

const SCHEMAS = new Map(FIELDS.map((f) => [f.key, fieldSchema(f)]));

/** The result of reading one field: its value, or the message saying why it was refused. */
export type FieldResult = { ok: true; value: string | number } | { ok: false; message: string };

/** Parses the text of field `key` (as typed in the form or found in the URL). */
export function parseField(key: string, text: string): FieldResult {
  const schema = SCHEMAS.get(fieldByKey(key).key)!;
  const r = schema.safeParse(text);
  return r.success ? { ok: true, value: r.data } : { ok: false, message: r.error.issues[0]!.message };
}

/** The text of field `f` in `s`. */
export function fieldText(s: Settings, f: FieldSpec): string {
  const holder = (f.side === undefined ? s : s[f.side]) as unknown as Record<string, unknown>;
  const v = holder[f.prop];
  return typeof v === 'boolean' ? (v ? '1' : '0') : String(v);
}

/** Whether field `f` applies to `s`'s side: every side field but a hyper-parameter its method does not use. */
function usedBySide(s: Settings, f: FieldSpec): boolean {
  return f.side === undefined || !f.hyper || methodById(s[f.side].opt).uses.includes(f.prop as HyperParameter);
}

/** Why field `f` is refused for method `opt`: it is not one of the method's hyper-parameters. */
function notUsed(f: FieldSpec, opt: string): string {
  const m = methodById(opt);
  return `${f.label} is not a setting of ${m.label} (its settings: ${m.uses.join(', ') || 'none'})`;
}

/**
 * `s` with field `key` set to `value` (already parsed). Choosing another optimiser resets that
 * side's hyper-parameters to the new method's defaults, as a fresh link with only `opt` would.
 * @throws RangeError for a hyper-parameter the side's method does not use, naming those it does.
 */
export function withField(s: Settings, key: string, value: string | number): Settings {
  const f = fieldByKey(key);
  if (f.side !== undefined) {
    const side = s[f.side];
    if (!usedBySide(s, f)) throw new RangeError(notUsed(f, side.opt));
    const next: SideSettings = f.prop === 'opt' ? defaultSide(String(value), side.base, side.lr) : { ...side, [f.prop]: value };
    return { ...s, [f.side]: next };
  }
  return { ...s, [f.prop]: f.prop === 'race' ? value === '1' : value } as Settings;
}

/** A problem between fields: the key of the field it names (side B's prefixed `b.`) and the message. */
export interface CrossProblem {
  readonly key: string;
  readonly message: string;
}

/** The key of side `side`'s field `prop`. */
const sideKey = (side: 'a' | 'b', prop: string): string => (side === 'a' ? prop : `b.${prop}`);

/**
 * The method's own checks on side `side` (its fields and its base), with the run-spec paths of
 * the table's messages (`base.name: ...`, `optimizer.k: ...`) turned into the form's field labels.
 */
function sideProblems(s: Settings, side: 'a' | 'b'): CrossProblem[] {
  const settings = s[side];
  return methodById(settings.opt)
    .check(settings, settings.base)
    .map((message) => {
      const path = /^(base\.name|optimizer\.(\w+)): (.*)$/.exec(message);
      const key = path === null ? undefined : sideKey(side, path[2] ?? 'base');
      // A path that is no field of the form (none today) stays as the table wrote it, on the picker.
      if (key === undefined || !FIELDS.some((f) => f.key === key)) return { key: sideKey(side, 'opt'), message };
      return { key, message: `${fieldByKey(key).label}: ${path![3]}` };
    });
}

/** Every check between fields that fails for `s` (the batch against the training set, each side's method checks). */
export function crossProblems(s: Settings): CrossProblem[] {
  const out: CrossProblem[] = [];
  const nTest = Math.ceil(s.test * s.n);
  const nTrain = s.n - nTest;
  if (s.batch > nTrain) {
    out.push({
      key: 'batch',
      message: `batch size must be at most the number of training points (${nTrain} = ${s.n} points less ${nTest} for testing), got ${s.batch}`,
    });
  }
  // Both sides, also outside race mode: side B is kept valid so that turning race mode on cannot fail.
  return [...out, ...sideProblems(s, 'a'), ...sideProblems(s, 'b')];
}

/** Checks between fields; null when the settings are consistent, else the first problem's message. */
export function crossCheck(s: Settings): string | null {
  return crossProblems(s)[0]?.message ?? null;
}

/** Fields shown for `s`: side B's only in race mode, hyper-parameters only where the method uses them. */
export function activeFields(s: Settings): FieldSpec[] {
  return FIELDS.filter((f) => !(f.side === 'b' && !s.race) && usedBySide(s, f));
}

/** The URL hash (without '#') that reproduces `s`: every active field, in table order. */
export function toHash(s: Settings): string {
  const params = new URLSearchParams();
  for (const f of activeFields(s)) params.set(f.key, fieldText(s, f));
  return params.toString();
}

/**
 * Side `side` of `s` repaired after its method's checks failed, and what was used instead: the
 * fields the messages name back to the method's defaults, and a base the method accepts (the
 * default base first); failing that, the side's default settings.
 */
function repairSide(s: Settings, side: 'a' | 'b', problems: readonly CrossProblem[]): { settings: Settings; used: string } {
  const current = s[side];
  const m = methodById(current.opt);
  const reset: SideSettings = { ...current };
  const named = problems.map((p) => fieldByKey(p.key)).filter((f) => f.hyper === true);
  for (const f of named) reset[f.prop as HyperParameter] = m.defaults[f.prop as HyperParameter];
  const bases = [DEFAULT_BASE, ...Object.keys(BASE_OPTIMIZERS).filter((b) => b !== DEFAULT_BASE)];
  const keepBase = !problems.some((p) => p.key === sideKey(side, 'base'));
  for (const base of keepBase ? [current.base] : bases) {
    const next = { ...reset, base };
    if (m.check(next, base).length === 0) {
      const used = [
        ...named.map((f) => `${f.label} ${m.defaults[f.prop as HyperParameter]}`),
        ...(base !== current.base ? [`${fieldByKey(sideKey(side, 'base')).label} ${base}`] : []),
      ];
      return { settings: { ...s, [side]: next }, used: used.join(', ') };
    }
  }
  const fallback = DEFAULT_SETTINGS[side];
  return {
    settings: { ...s, [side]: { ...fallback } },
    used: `${fieldByKey(sideKey(side, 'opt')).label} ${fallback.opt} with its defaults`,
  };
}

/**
 * Settings from a URL hash (with or without '#'). Keys left out take their defaults (a side's
 * hyper-parameters those of its method); unknown keys, bad values, hyper-parameters the side's
 * method does not use and combinations a method refuses are reported in `problems`, one line each,
 * and replaced by defaults, so the page can show why a link was not followed.
 */
export function fromHash(hash: string): { settings: Settings; problems: string[] } {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const problems: string[] = [];
  for (const key of params.keys()) {
    if (!FIELDS.some((f) => f.key === key))
      problems.push(`unknown setting '${key}' ignored (settings are ${FIELDS.map((f) => f.key).join(', ')})`);
  }
  const read = (key: string): string | number | undefined => {
    const text = params.get(key);
    if (text === null) return undefined;
    const r = parseField(key, text);
    if (r.ok) return r.value;
    problems.push(`${r.message}; the default is used`);
    return undefined;
  };
  let s: Settings = { ...DEFAULT_SETTINGS, a: { ...DEFAULT_SETTINGS.a }, b: { ...DEFAULT_SETTINGS.b } };
  // A side's optimiser first: its defaults are what the side's other keys fall back to.
  for (const side of ['a', 'b'] as const) {
    const opt = read(sideKey(side, 'opt'));
    if (opt !== undefined) s = withField(s, sideKey(side, 'opt'), opt);
  }
  for (const f of FIELDS) {
    if (f.prop === 'opt') continue;
    if (params.has(f.key) && !usedBySide(s, f)) {
      problems.push(`${notUsed(f, s[f.side!].opt)}; ignored`);
      continue;
    }
    const v = read(f.key);
    if (v !== undefined) s = withField(s, f.key, v);
  }
  const cross = crossProblems(s);
  const batch = cross.find((p) => p.key === 'batch');
  if (batch !== undefined) {
    const size = Math.min(DEFAULT_SETTINGS.batch, s.n - Math.ceil(s.test * s.n));
    problems.push(`${batch.message}; batch size ${size} is used`);
    s = { ...s, batch: size };
  }
  for (const side of ['a', 'b'] as const) {
    const own = cross.filter((p) => fieldByKey(p.key).side === side);
    if (own.length === 0) continue;
    const repaired = repairSide(s, side, own);
    for (const p of own) problems.push(`${p.message}; ${repaired.used} is used`);
    s = repaired.settings;
  }
  return { settings: s, problems };
}
