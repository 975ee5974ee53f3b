/**
 * A sweep file expanded into run specs: (methods) x (grid product) x (random draws) x (seeds), each
 * spec completed by the CLI's defaults and named by its content hash. Everything is checked before
 * anything runs, and every problem is reported on its own line naming where it is in the file.
 */
import { completeSpec, DEFAULT_OPTIMIZERS } from '../defaults.js';
import { isTestMetric, METRICS, type MetricName } from '../metrics.js';
import { pointId, runId } from '../runId.js';
import type { RunSpec } from '../schema.js';
import { formatIssues, ValidationError } from '../validate.js';
import { Rng } from '../../util/random.js';
import { getPath, schemaAt, setPath, SPEC_PATHS, suggestPath } from './paths.js';
import {
  DISTRIBUTIONS,
  DistributionSchema,
  SweepFileSchema,
  type Distribution,
  type Grid,
  type RandomSearch,
  type SweepFile,
} from './schema.js';

/** Validation share of a sweep that selects, unless the file says otherwise. */
export const SWEEP_VALIDATION_FRACTION = 0.1;
/** The metric a sweep selects on unless the file names another. */
export const DEFAULT_SELECTION_METRIC = 'validationAccuracy';

/** One run of an expanded sweep. */
export interface SweepRun {
  spec: RunSpec;
  runId: string;
  /** Hash of the spec without its seed: the runs of one point differ only in the seed. */
  pointId: string;
  method: string;
  /** The values this point sets by path (grid and random fields, the method included). */
  params: Record<string, string | number | boolean>;
  seed: number;
}

/** A sweep ready to run. */
export interface ExpandedSweep {
  name: string | null;
  /** Unique runs in expansion order (method, grid point, random draw, seed). */
  runs: SweepRun[];
  /** Number of distinct points. */
  points: number;
  seeds: number[];
  /** How the best point per method is chosen, or null when the sweep does not select. */
  select: { metric: MetricName; validationFraction: number } | null;
}

type Params = Record<string, string | number | boolean>;
type Value = string | number | boolean;

const quote = (path: string): string => `[${JSON.stringify(path)}]`;
const show = (v: unknown): string => JSON.stringify(v) ?? String(v);

/** Checks that `path` names a sweepable spec field; returns a problem line, or null. */
function checkPath(where: string, path: string): string | null {
  if (path === 'seed') return `${where}${quote(path)}: seeds are set by the sweep's "seeds", not by a grid`;
  if (schemaAt(path) !== null) return null;
  const hint = suggestPath(path);
  return `${where}${quote(path)}: unknown spec field${hint ? ` (did you mean ${hint}?)` : ''}; fields: ${SPEC_PATHS.join(', ')}`;
}

/** Checks one value against the schema of its field; returns problem lines. */
function checkValue(where: string, path: string, value: unknown): string[] {
  const schema = schemaAt(path);
  if (schema === null) return [];
  const result = schema.safeParse(value);
  if (result.success) return [];
  return formatIssues(result.error.issues).map((line) => `${where}: ${line.replace(/^\(root\): /, '')}, got ${show(value)}`);
}

function checkGrid(where: string, grid: Grid): string[] {
  const problems: string[] = [];
  if (Object.keys(grid).length === 0) problems.push(`${where}: must name at least one spec field`);
  for (const [path, values] of Object.entries(grid)) {
    const bad = checkPath(where, path);
    if (bad !== null) {
      problems.push(bad);
      continue;
    }
    if (values.length === 0) problems.push(`${where}${quote(path)}: must list at least one value`);
    const seen = new Set<string>();
    values.forEach((v, i) => {
      problems.push(...checkValue(`${where}${quote(path)}[${i}]`, path, v));
      if (seen.has(show(v))) problems.push(`${where}${quote(path)}[${i}]: ${show(v)} is listed twice`);
      seen.add(show(v));
    });
  }
  return problems;
}

function checkDistribution(where: string, path: string, raw: unknown): string[] {
  const at = `${where}${quote(path)}`;
  const dist = raw !== null && typeof raw === 'object' ? (raw as { dist?: unknown }).dist : undefined;
  if (!DISTRIBUTIONS.includes(dist as (typeof DISTRIBUTIONS)[number])) {
    return [`${at}.dist: must be one of ${DISTRIBUTIONS.join(', ')}, got ${show(dist)}`];
  }
  const parsed = DistributionSchema.safeParse(raw);
  if (!parsed.success) return formatIssues(parsed.error.issues).map((line) => `${at}.${line}`);
  const d = parsed.data;
  if (d.dist === 'choice') {
    if (d.values.length === 0) return [`${at}.values: must list at least one value`];
    return d.values.flatMap((v, i) => checkValue(`${at}.values[${i}]`, path, v));
  }
  const problems: string[] = [];
  if (!(d.low < d.high)) problems.push(`${at}: low must be < high, got low ${d.low}, high ${d.high}`);
  if (d.dist === 'loguniform' && !(d.low > 0)) problems.push(`${at}.low: loguniform needs low > 0, got ${d.low}`);
  // An integer field (epochs, dataset.n, ...) rejects 1.5 but takes 2: a continuous draw would need
  // rounding, which would silently change the distribution, so ask for a choice instead.
  const schema = schemaAt(path);
  if (schema !== null && !schema.safeParse(1.5).success && schema.safeParse(2).success) {
    problems.push(`${at}: ${path} takes integers; draw it with dist "choice"`);
  }
  problems.push(...checkValue(`${at}.low`, path, d.low), ...checkValue(`${at}.high`, path, d.high));
  return problems;
}

function checkRandom(where: string, random: RandomSearch): string[] {
  const problems: string[] = [];
  const paths = Object.keys(random.params);
  if (paths.length === 0) problems.push(`${where}.params: must name at least one spec field`);
  for (const path of paths) {
    const bad = checkPath(`${where}.params`, path);
    if (bad !== null) problems.push(bad);
    else problems.push(...checkDistribution(`${where}.params`, path, random.params[path]));
  }
  return problems;
}

/** The product of a grid's value lists, first path outermost. */
function gridPoints(grid: Grid | undefined): Params[] {
  let points: Params[] = [{}];
  for (const [path, values] of Object.entries(grid ?? {})) {
    points = points.flatMap((p) => values.map((v) => ({ ...p, [path]: v })));
  }
  return points;
}

/**
 * Six significant digits: drawn values print and hash the same on every platform, and a table shows
 * `0.0734217`, not seventeen digits of noise.
 */
const round6 = (x: number): number => Number(x.toPrecision(6));

function draw(rng: Rng, d: Distribution): Value {
  switch (d.dist) {
    case 'choice':
      return d.values[Math.floor(rng.next() * d.values.length)];
    case 'uniform':
      return round6(d.low + (d.high - d.low) * rng.next());
    case 'loguniform':
      return round6(Math.exp(Math.log(d.low) + (Math.log(d.high) - Math.log(d.low)) * rng.next()));
  }
}

/** The `n` random points of a search, fields drawn in the order the file lists them. */
function randomPoints(random: RandomSearch | undefined): Params[] {
  if (random === undefined) return [{}];
  const rng = new Rng(random.seed ?? 0);
  const dists = Object.entries(random.params).map(([path, d]) => [path, DistributionSchema.parse(d)] as const);
  return Array.from({ length: random.n }, () => Object.fromEntries(dists.map(([path, d]) => [path, draw(rng, d)])));
}

/** One method's settings: the sweep's base with the method's own base and name over it. */
interface MethodPlan {
  method: string | null;
  base: Record<string, unknown>;
  grid: Grid | undefined;
  random: RandomSearch | undefined;
  where: string;
}

function methodPlans(file: SweepFile, problems: string[]): MethodPlan[] {
  const base = file.base ?? {};
  if (file.methods === undefined) return [{ method: null, base, grid: file.grid, random: file.random, where: '' }];
  if (Object.keys(file.methods).length === 0) problems.push('methods: must name at least one method');
  if (file.grid?.['optimizer.name'] !== undefined)
    problems.push('grid["optimizer.name"]: the methods are given by "methods"; list them there only');
  return Object.entries(file.methods).map(([method, m]) => {
    const where = `methods.${method}.`;
    if (!(method in DEFAULT_OPTIMIZERS))
      problems.push(`methods.${method}: unknown method; methods: ${Object.keys(DEFAULT_OPTIMIZERS).join(', ')}`);
    for (const path of Object.keys(m.grid ?? {})) {
      if (file.grid?.[path] !== undefined) problems.push(`${where}grid${quote(path)}: also in the sweep's grid; give it in one place`);
      if (path === 'optimizer.name') problems.push(`${where}grid${quote(path)}: a method's grid cannot change its method`);
    }
    const mergedBase = { ...base, ...(m.base ?? {}) };
    for (const key of ['dataset', 'optimizer', 'base'] as const) {
      const a = base[key];
      const b = m.base?.[key];
      if (a !== null && typeof a === 'object' && b !== null && typeof b === 'object') mergedBase[key] = { ...a, ...b };
    }
    const withName = setPath(mergedBase, 'optimizer.name', method);
    return { method, base: withName, grid: { ...(file.grid ?? {}), ...(m.grid ?? {}) }, random: m.random ?? file.random, where };
  });
}

/** The selection metric must be a record metric computed off the test set. */
function checkSelectMetric(metric: string): string[] {
  const selectable = METRICS.filter((m) => !isTestMetric(m));
  if ((METRICS as readonly string[]).includes(metric) && isTestMetric(metric as MetricName)) {
    return [`select.metric: model selection never looks at the test set; one of ${selectable.join(', ')}, got ${show(metric)}`];
  }
  return (selectable as readonly string[]).includes(metric)
    ? []
    : [`select.metric: must be one of ${selectable.join(', ')}, got ${show(metric)}`];
}

/** Seeds of a sweep: a count n means 0..n-1. */
function sweepSeeds(seeds: SweepFile['seeds'], problems: string[]): number[] {
  if (typeof seeds === 'number') return Array.from({ length: seeds }, (_, i) => i);
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  if (dup !== undefined) problems.push(`seeds: ${dup} is listed twice`);
  return seeds;
}

/**
 * Validates a parsed sweep file and expands it into the runs to do.
 * @param what names the source in messages (e.g. the file name).
 * @throws ValidationError with one line per problem, each naming its place in the file; nothing is
 *   returned (so nothing runs) while any problem remains.
 */
export function expandSweep(value: unknown, what = 'sweep'): ExpandedSweep {
  const parsed = SweepFileSchema.safeParse(value);
  if (!parsed.success) throw new ValidationError(what, formatIssues(parsed.error.issues));
  const file = parsed.data;
  const problems: string[] = [];
  if (file.grid !== undefined) problems.push(...checkGrid('grid', file.grid));
  if (file.random !== undefined) problems.push(...checkRandom('random', file.random));
  for (const [method, m] of Object.entries(file.methods ?? {})) {
    if (m.grid !== undefined) problems.push(...checkGrid(`methods.${method}.grid`, m.grid));
    if (m.random !== undefined) problems.push(...checkRandom(`methods.${method}.random`, m.random));
  }
  if (file.select !== undefined && file.select !== false && file.select.metric !== undefined)
    problems.push(...checkSelectMetric(file.select.metric));
  const plans = methodPlans(file, problems);
  const seeds = sweepSeeds(file.seeds, problems);
  if (problems.length > 0) throw new ValidationError(what, problems);

  const select =
    file.select === false
      ? null
      : {
          metric: (file.select?.metric ?? DEFAULT_SELECTION_METRIC) as MetricName,
          validationFraction: file.select?.validationFraction ?? SWEEP_VALIDATION_FRACTION,
        };
  const runs: SweepRun[] = [];
  const seen = new Set<string>();
  const specProblems = new Set<string>();
  for (const plan of plans) {
    const points = gridPoints(plan.grid).flatMap((g) => randomPoints(plan.random).map((r) => ({ ...g, ...r })));
    for (const params of points) {
      let partial = plan.base;
      for (const [path, v] of Object.entries(params)) partial = setPath(partial, path, v);
      if (select !== null && getPath(partial, 'dataset.validationFraction') === undefined) {
        partial = setPath(partial, 'dataset.validationFraction', select.validationFraction);
      }
      const label = Object.entries(params)
        .map(([p, v]) => `${p}=${show(v)}`)
        .join(', ');
      for (const seed of seeds) {
        let spec: RunSpec;
        try {
          spec = completeSpec({ ...partial, seed }, what);
        } catch (err) {
          if (!(err instanceof ValidationError)) throw err;
          const at = `${plan.method !== null ? `methods.${plan.method}` : 'point'}${label ? ` (${label})` : ''}`;
          for (const issue of err.issues) specProblems.add(`${at}: ${issue}`);
          break; // the other seeds of the point have the same problem
        }
        const id = runId(spec);
        if (seen.has(id)) continue;
        seen.add(id);
        const method = spec.optimizer.name;
        runs.push({
          spec,
          runId: id,
          pointId: pointId(spec),
          method,
          params: { ...(plan.method ? { 'optimizer.name': plan.method } : {}), ...params },
          seed,
        });
      }
    }
  }
  if (specProblems.size > 0) throw new ValidationError(what, [...specProblems]);
  return { name: file.name ?? null, runs, points: new Set(runs.map((r) => r.pointId)).size, seeds, select };
}
