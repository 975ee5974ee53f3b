/**
 * From run records to the units the analysis works on: groups (one data set and model), methods
 * (`spec.optimizer.name`) and points (a spec without its seed and name; its runs over seeds are the
 * replicates). Also the metrics a record offers and which of them may choose a model.
 */
import type { RunRecord, RunSpec } from '../experiments/schema.js';
import { DEFAULT_LEVEL, estimateMean, type MeanEstimate } from './stats.js';
import { METRICS, type MetricName } from '../experiments/metrics.js';

export { METRICS, checkMetric, isTestMetric, isValidationMetric, metricGoal, type MetricName } from '../experiments/metrics.js';

/**
 * A run's final value of `metric`: only a COMPLETE run has one (a diverged run's last finite epoch is
 * not a result); null when the record lacks it (no validation split) or it is not finite.
 */
export function finalMetric(record: RunRecord, metric: MetricName): number | null {
  if (record.status !== 'complete' || record.final === null) return null;
  const v = record.final[metric];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

import { canonicalJson, pointId, pointSpec, type PointSpec } from '../experiments/runId.js';

export { canonicalJson, pointId, pointSpec, type PointSpec };

/** A JSON leaf value at a spec path (absent paths read as null). */
export type ParamValue = string | number | boolean | null;

/** The value at a dotted path of a spec (`optimizer.rho`); null when absent. */
export function readPath(spec: unknown, path: string): ParamValue {
  let v: unknown = spec;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
    v = (v as Record<string, unknown>)[key];
  }
  if (v === undefined || v === null) return null;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return v;
  return canonicalJson(v);
}

/** Every leaf path of a spec (`dataset.n`, `optimizer.rho`, ...), sorted. */
export function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return prefix ? [prefix] : [];
  const out: string[] = [];
  for (const key of Object.keys(value as Record<string, unknown>)) {
    const v = (value as Record<string, unknown>)[key];
    if (v === undefined) continue;
    out.push(...leafPaths(v, prefix ? `${prefix}.${key}` : key));
  }
  return out.sort();
}

/** Short form of a path for labels: `optimizer.rho` -> `rho`, `base.learningRate` -> `learningRate`. */
export function shortPath(path: string): string {
  return path.replace(/^(optimizer|base|dataset)\./, '');
}

/** One point: its runs over seeds, counted by status, and every final metric over its complete runs. */
export interface PointSummary {
  /** {@link pointId} of the point's spec. */
  id: string;
  /** `spec.optimizer.name`. */
  method: string;
  /** The point's values at its method's varied paths (null: absent, i.e. the default). */
  params: Record<string, ParamValue>;
  /** `rho=0.05, alpha=0.1` from `params` (empty when the method has one point). */
  label: string;
  /** The point's spec (no seed, no name). */
  spec: PointSpec;
  /** All runs of the point, whatever their status. */
  runs: number;
  /** Runs with status 'complete': those the metrics are over. */
  complete: number;
  /** Runs with status 'diverged'. */
  diverged: number;
  /** Runs that stopped on an error (status 'running', `error` set). */
  failed: number;
  /** Runs still 'running' without an error (interrupted or in progress). */
  unfinished: number;
  /** Seeds of all runs, ascending. */
  seeds: number[];
  /** Seeds of the complete runs, ascending: those the means are over. */
  completeSeeds: number[];
  /** Seeds of the diverged runs, ascending. */
  divergedSeeds: number[];
  /** Every metric of `METRICS` over the complete runs that have it. */
  metrics: Record<MetricName, MeanEstimate>;
  /** The values behind `metrics`: each complete run's final value, by seed ascending. */
  values: Record<MetricName, SeedValue[]>;
}

/** One run's final value of a metric. */
export interface SeedValue {
  seed: number;
  value: number;
}

/** A method's points in a group and the spec paths that tell them apart. */
export interface MethodPoints {
  method: string;
  /** Paths whose values differ among the method's points: rho, alpha, then the rest alphabetically (empty for a single point). */
  variedPaths: string[];
  points: PointSummary[];
}

/** Records of one data set and model. */
export interface RecordSet {
  /** File-name-safe key, `moons-mlp` (the report's group key). */
  key: string;
  /** `moons (MLP)`. */
  title: string;
  dataset: string;
  model: string;
  records: RunRecord[];
}

/** The data-set label of a spec: its name, or the IDX directory's last part. */
export function datasetLabel(spec: RunSpec): string {
  const d = spec.dataset;
  if (d.name !== 'idx' || !d.dir) return d.name;
  const parts = d.dir.split(/[\\/]+/).filter((p) => p.length > 0);
  return parts.length > 0 ? parts[parts.length - 1] : d.name;
}

function slug(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '') || 'runs'
  );
}

/** Splits records by data set and model, in order of first appearance (the report's grouping). */
export function splitByDataset(records: readonly RunRecord[]): RecordSet[] {
  const sets = new Map<string, RecordSet>();
  for (const r of records) {
    const dataset = datasetLabel(r.spec);
    const key = slug(`${dataset}-${r.spec.model}`);
    let s = sets.get(key);
    if (!s) {
      s = { key, title: `${dataset} (${r.spec.model.toUpperCase()})`, dataset, model: r.spec.model, records: [] };
      sets.set(key, s);
    }
    s.records.push(r);
  }
  return [...sets.values()];
}

const ascending = (a: number, b: number): number => a - b;

function summarizePoint(id: string, method: string, records: RunRecord[], variedPaths: string[], level: number): PointSummary {
  const complete = records.filter((r) => r.status === 'complete');
  const params: Record<string, ParamValue> = {};
  for (const p of variedPaths) params[p] = readPath(records[0].spec, p);
  const metrics = {} as Record<MetricName, MeanEstimate>;
  const values = {} as Record<MetricName, SeedValue[]>;
  for (const m of METRICS) {
    values[m] = complete
      .flatMap((r) => {
        const v = finalMetric(r, m);
        return v === null ? [] : [{ seed: r.spec.seed, value: v }];
      })
      .sort((a, b) => a.seed - b.seed);
    metrics[m] = estimateMean(
      values[m].map((v) => v.value),
      level,
    );
  }
  return {
    id,
    method,
    params,
    label: variedPaths.map((p) => `${shortPath(p)}=${params[p] === null ? 'default' : String(params[p])}`).join(', '),
    spec: pointSpec(records[0].spec),
    runs: records.length,
    complete: complete.length,
    diverged: records.filter((r) => r.status === 'diverged').length,
    failed: records.filter((r) => r.status === 'running' && r.error !== undefined).length,
    unfinished: records.filter((r) => r.status === 'running' && r.error === undefined).length,
    seeds: records.map((r) => r.spec.seed).sort(ascending),
    completeSeeds: complete.map((r) => r.spec.seed).sort(ascending),
    divergedSeeds: records
      .filter((r) => r.status === 'diverged')
      .map((r) => r.spec.seed)
      .sort(ascending),
    metrics,
    values,
  };
}

/**
 * Groups a data set's records by method, then by point, and summarises each point. Methods come in
 * order of `methodOrder` (names not in it follow, alphabetically); points by their parameters.
 * @throws RangeError when two runs of one point share a seed (a results directory holds each run once).
 */
export function collectPoints(records: readonly RunRecord[], methodOrder: readonly string[], level = DEFAULT_LEVEL): MethodPoints[] {
  const byMethod = new Map<string, Map<string, RunRecord[]>>();
  for (const r of records) {
    const method = r.spec.optimizer.name;
    const points = byMethod.get(method) ?? new Map<string, RunRecord[]>();
    const id = pointId(r.spec);
    const runs = points.get(id) ?? [];
    if (runs.some((o) => o.spec.seed === r.spec.seed)) {
      const other = runs.find((o) => o.spec.seed === r.spec.seed)!;
      throw new RangeError(
        `collectPoints: records must hold each (point, seed) once, got ${other.runId} and ${r.runId} for point ${id} seed ${r.spec.seed}`,
      );
    }
    runs.push(r);
    points.set(id, runs);
    byMethod.set(method, points);
  }
  const rank = (m: string): number => {
    const i = methodOrder.indexOf(m);
    return i < 0 ? methodOrder.length : i;
  };
  const methods = [...byMethod.keys()].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return methods.map((method) => {
    const points = byMethod.get(method)!;
    const specs = [...points.values()].map((runs) => runs[0].spec);
    const paths = new Set<string>();
    for (const s of specs) for (const p of leafPaths(pointSpec(s))) paths.add(p);
    const variedPaths = [...paths].filter((p) => new Set(specs.map((s) => canonicalJson(readPath(s, p)))).size > 1).sort(comparePaths);
    const summaries = [...points.entries()].map(([id, runs]) => summarizePoint(id, method, runs, variedPaths, level));
    summaries.sort((a, b) => compareParams(a, b, variedPaths));
    return { method, variedPaths, points: summaries };
  });
}

/** rho and alpha first (the swept settings of the sharpness-aware methods), then the rest alphabetically. */
const LEADING_PATHS = ['optimizer.rho', 'optimizer.alpha'];

function comparePaths(a: string, b: string): number {
  const ia = LEADING_PATHS.indexOf(a);
  const ib = LEADING_PATHS.indexOf(b);
  if (ia !== ib) return (ia < 0 ? LEADING_PATHS.length : ia) - (ib < 0 ? LEADING_PATHS.length : ib);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Orders points by their varied parameters (numbers numerically, nulls first), then by id. */
function compareParams(a: PointSummary, b: PointSummary, paths: readonly string[]): number {
  for (const p of paths) {
    const x = a.params[p];
    const y = b.params[p];
    if (x === y) continue;
    if (x === null) return -1;
    if (y === null) return 1;
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    const sx = String(x);
    const sy = String(y);
    if (sx !== sy) return sx < sy ? -1 : 1;
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}
