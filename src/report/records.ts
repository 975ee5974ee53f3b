/**
 * Reading a results directory and splitting it into the groups the report plots separately.
 */
import { existsSync, statSync } from 'node:fs';
import type { RunRecord } from '../experiments/schema.js';
import { readRecords } from '../experiments/store.js';

/**
 * Every `<resultsDir>/<run>/record.json`, validated, sorted by runId (the runner's store reader),
 * after checking that the directory exists: a report of a mistyped path should fail, not be empty.
 * @throws Error naming the file and the invalid field when a record does not match the schema.
 */
export function readResultRecords(resultsDir: string): RunRecord[] {
  if (typeof resultsDir !== 'string' || resultsDir.length === 0) {
    throw new Error(`resultsDir must be a non-empty path string, got ${JSON.stringify(resultsDir)}`);
  }
  if (!existsSync(resultsDir) || !statSync(resultsDir).isDirectory()) {
    throw new Error(`resultsDir must be an existing directory, got ${JSON.stringify(resultsDir)}`);
  }
  return readRecords(resultsDir);
}

/** Runs that are plotted together: the same data set and model. */
export interface RecordGroup {
  /** File-name-safe key, e.g. 'moons-mlp'. */
  key: string;
  /** Heading, e.g. 'moons (MLP)'. */
  title: string;
  /** Finished runs (complete or diverged), sorted by runId: what the plots draw. */
  records: RunRecord[];
  /** Every run of the group, unfinished ones included: what the summary table counts. */
  all: RunRecord[];
  /** True when runs of one optimiser differ in settings other than the seed (they are pooled anyway). */
  mixedSettings: boolean;
}

function datasetName(r: RunRecord): string {
  const d = r.spec.dataset;
  if (d.name !== 'idx' || !d.dir) return d.name;
  // An IDX directory names the data set (mnist, fashion-mnist, ...); its last path part says which.
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

/** The settings of a run apart from its seed and name, to spot pooled runs that differ. */
function settingsKey(r: RunRecord): string {
  const { seed: _seed, name: _name, ...rest } = r.spec;
  return JSON.stringify(rest);
}

/**
 * Splits runs by data set and model, in order of first appearance of the sorted runIds. Runs still
 * 'running' only appear in `all`. A group may have no finished run at all.
 */
export function groupRecords(records: readonly RunRecord[]): RecordGroup[] {
  const groups = new Map<string, RecordGroup>();
  for (const r of records) {
    const ds = datasetName(r);
    const key = slug(`${ds}-${r.spec.model}`);
    let g = groups.get(key);
    if (!g) {
      g = { key, title: `${ds} (${r.spec.model.toUpperCase()})`, records: [], all: [], mixedSettings: false };
      groups.set(key, g);
    }
    g.all.push(r);
    if (r.status !== 'running') g.records.push(r);
  }
  for (const g of groups.values()) {
    // Only finished runs are pooled in the plots, so only they can mix settings there.
    const byOptimizer = new Map<string, Set<string>>();
    for (const r of g.records) {
      const set = byOptimizer.get(r.spec.optimizer.name) ?? new Set<string>();
      set.add(settingsKey(r));
      byOptimizer.set(r.spec.optimizer.name, set);
    }
    g.mixedSettings = [...byOptimizer.values()].some((s) => s.size > 1);
  }
  return [...groups.values()];
}

/** Runs whose record says 'running' (interrupted or still in progress): listed, not plotted. */
export function unfinishedRecords(records: readonly RunRecord[]): RunRecord[] {
  return records.filter((r) => r.status === 'running');
}
