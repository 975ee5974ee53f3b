/**
 * Aggregates run records over seeds: one row per (dataset, model, method variant), with the mean and
 * sample standard deviation of the final metrics and of the sharpness measures. Diverged, failed
 * and unfinished runs are counted and shown, never dropped; only completed runs are averaged (a
 * diverged run's last finite epoch is not a final result), so a row whose every run diverged has
 * no mean. The rows are printed as tables by report/tables.ts.
 */
import { METHODS, METHOD_IDS } from '../optimizers/index.js';
import { meanAndStd } from '../util/stats.js';
import type { RunRecord, RunSpec } from './schema.js';

/** Mean and sample standard deviation (n - 1 in the denominator) of one metric over runs. */
export interface Stat {
  /** Number of values averaged (runs that completed and have the metric). */
  n: number;
  /** Mean, or null when n = 0. */
  mean: number | null;
  /** Sample standard deviation, or null when n < 2. */
  std: number | null;
}

/** One row of a comparison: every run of one method variant on one dataset and model. */
export interface MethodSummary {
  /** Dataset label: its name, plus the IDX directory's last component for 'idx'. */
  dataset: string;
  model: RunSpec['model'];
  /** The optimiser name of the spec (a method of the method table: 'sgd', 'sam', ..., 'esam'). */
  optimizer: string;
  /** What the tables print: the optimiser name, plus the settings that tell apart several variants of it. */
  label: string;
  /** All records in the group. */
  runs: number;
  /** Records with status 'complete'. */
  complete: number;
  /** Records with status 'diverged'. */
  diverged: number;
  /** Records that stopped on an error (a crash, bad data; the record's `error` is set). */
  failed: number;
  /** Records still 'running' without an error (interrupted or in progress). */
  incomplete: number;
  /** Seeds of the group's runs, ascending. */
  seeds: number[];
  /** Run ids of the diverged runs, so a table can name them. */
  divergedRunIds: string[];
  testAccuracy: Stat;
  testLoss: Stat;
  trainLoss: Stat;
  trainAccuracy: Stat;
  /** Sharpness statistics: null when no completed run of the group was measured. */
  sigmaMax: Stat | null;
  trace: Stat | null;
  surrogateGap: Stat | null;
}

/** The order methods are listed in (the method table's); any other optimiser name follows, alphabetically. */
export const METHOD_ORDER: readonly string[] = METHOD_IDS;

/** Display names of the known optimisers (the method table's labels). */
export const METHOD_NAMES: Readonly<Record<string, string>> = Object.fromEntries(METHODS.map((m) => [m.name, m.label]));

const DATASET_ORDER = ['moons', 'mnist', 'idx'];

/** Mean and sample standard deviation of `values` (non-finite values are not allowed). */
export function stat(values: readonly number[]): Stat {
  for (const v of values) {
    if (!Number.isFinite(v)) throw new Error(`stat: values must be finite numbers, got ${v}`);
  }
  const { n, mean, std } = meanAndStd(values);
  return { n, mean, std };
}

function datasetLabel(spec: RunSpec): string {
  if (spec.dataset.name === 'idx' && spec.dataset.dir) {
    const parts = spec.dataset.dir.split(/[\\/]/).filter((p) => p.length > 0);
    return `idx:${parts[parts.length - 1] ?? spec.dataset.dir}`;
  }
  return spec.dataset.name;
}

/** Flattens a plain JSON object to path -> JSON value, for grouping and for naming differences. */
function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const key of Object.keys(value as Record<string, unknown>).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      flatten(v, prefix ? `${prefix}.${key}` : key, out);
    }
  } else {
    out.set(prefix, JSON.stringify(value));
  }
}

/** Everything of a spec that defines the method variant: the spec minus its seed and label. */
function variantFields(spec: RunSpec): Map<string, string> {
  const { seed: _seed, name: _name, ...rest } = spec;
  const out = new Map<string, string>();
  flatten(rest, '', out);
  return out;
}

function variantKey(fields: Map<string, string>): string {
  return [...fields.entries()].map(([k, v]) => `${k}=${v}`).join('&');
}

function compareMethods(a: string, b: string): number {
  const ia = METHOD_ORDER.indexOf(a);
  const ib = METHOD_ORDER.indexOf(b);
  if (ia >= 0 && ib >= 0) return ia - ib;
  if (ia >= 0) return -1;
  if (ib >= 0) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareDatasets(a: string, b: string): number {
  const base = (s: string): string => s.split(':')[0] ?? s;
  const ia = DATASET_ORDER.indexOf(base(a));
  const ib = DATASET_ORDER.indexOf(base(b));
  if (ia !== ib) return ia - ib;
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Group {
  dataset: string;
  model: RunSpec['model'];
  optimizer: string;
  key: string;
  fields: Map<string, string>;
  records: RunRecord[];
}

function summarizeGroup(g: Group, label: string): MethodSummary {
  const done = g.records.filter((r) => r.status === 'complete' && r.final !== null);
  const finals = done.map((r) => r.final!);
  const measured = done.filter((r) => r.sharpness !== null).map((r) => r.sharpness!);
  const pick = (f: (s: (typeof measured)[number]) => number): Stat | null =>
    measured.length === 0 ? null : stat(measured.map(f).filter((v) => Number.isFinite(v)));
  const finite = (vs: number[]): number[] => vs.filter((v) => Number.isFinite(v));
  const diverged = g.records.filter((r) => r.status === 'diverged');
  return {
    dataset: g.dataset,
    model: g.model,
    optimizer: g.optimizer,
    label,
    runs: g.records.length,
    complete: g.records.filter((r) => r.status === 'complete').length,
    diverged: diverged.length,
    failed: g.records.filter((r) => r.status === 'running' && r.error !== undefined).length,
    incomplete: g.records.filter((r) => r.status === 'running' && r.error === undefined).length,
    seeds: g.records.map((r) => r.spec.seed).sort((a, b) => a - b),
    divergedRunIds: diverged.map((r) => r.runId).sort(),
    testAccuracy: stat(finite(finals.map((f) => f.testAccuracy))),
    testLoss: stat(finite(finals.map((f) => f.testLoss))),
    trainLoss: stat(finite(finals.map((f) => f.trainLoss))),
    trainAccuracy: stat(finite(finals.map((f) => f.trainAccuracy))),
    sigmaMax: pick((s) => s.sigmaMax),
    trace: pick((s) => s.trace),
    surrogateGap: pick((s) => s.surrogateGap),
  };
}

/**
 * Groups records by dataset, model and method variant (the spec without its seed and name) and
 * summarises each group. Rows come ordered by dataset (moons, mnist, idx, others), then model, then
 * method (sgd, sam, asam, gsam, agsam, others). When one optimiser appears with several settings
 * on the same dataset and model, each row's label names the settings that differ.
 */
export function summarize(records: readonly RunRecord[]): MethodSummary[] {
  if (!Array.isArray(records)) throw new Error('summarize: records must be an array of run records');
  const groups = new Map<string, Group>();
  for (const r of records) {
    const fields = variantFields(r.spec);
    const key = variantKey(fields);
    let g = groups.get(key);
    if (!g) {
      g = { dataset: datasetLabel(r.spec), model: r.spec.model, optimizer: r.spec.optimizer.name, key, fields, records: [] };
      groups.set(key, g);
    }
    g.records.push(r);
  }
  // Variants of the same method on the same data: label each by the settings that differ.
  const siblings = new Map<string, Group[]>();
  for (const g of groups.values()) {
    const k = `${g.dataset}\u0000${g.model}\u0000${g.optimizer}`;
    siblings.set(k, [...(siblings.get(k) ?? []), g]);
  }
  const labels = new Map<Group, string>();
  for (const sibs of siblings.values()) {
    const name = METHOD_NAMES[sibs[0]!.optimizer] ?? sibs[0]!.optimizer;
    if (sibs.length === 1) {
      labels.set(sibs[0]!, name);
      continue;
    }
    const paths = new Set<string>();
    for (const g of sibs) for (const p of g.fields.keys()) paths.add(p);
    const differing = [...paths].filter((p) => new Set(sibs.map((g) => g.fields.get(p) ?? 'default')).size > 1).sort();
    for (const g of sibs) {
      const desc = differing.map((p) => `${p.replace(/^(optimizer|base|dataset)\./, '')}=${g.fields.get(p) ?? 'default'}`);
      labels.set(g, `${name} (${desc.join(', ').replace(/"/g, '')})`);
    }
  }
  const ordered = [...groups.values()].sort(
    (a, b) =>
      compareDatasets(a.dataset, b.dataset) ||
      (a.model < b.model ? -1 : a.model > b.model ? 1 : 0) ||
      compareMethods(a.optimizer, b.optimizer) ||
      (labels.get(a)! < labels.get(b)! ? -1 : labels.get(a)! > labels.get(b)! ? 1 : 0),
  );
  return ordered.map((g) => summarizeGroup(g, labels.get(g)!));
}
