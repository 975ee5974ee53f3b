/**
 * Names of runs and of sweep points by content hash: a run id covers the whole validated spec, a point
 * id the spec without its seed and label. Keys are sorted recursively first, so the order in which a
 * file or a program writes the fields never changes a name, and any changed field always does.
 */
import { createHash } from 'node:crypto';
import type { RunSpec } from './schema.js';
import { parseRunSpec } from './validate.js';

/** Keys sorted recursively, so equal specs always serialise (and hash) the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const hash8 = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 8);

/**
 * A deterministic, readable id for a spec: `<dataset>-<model>-<optimizer>-seed<seed>-<hash8>`, the
 * hash covering the whole spec so two specs that differ anywhere get different ids.
 */
export function runId(spec: RunSpec): string {
  const valid = parseRunSpec(spec);
  return `${valid.dataset.name}-${valid.model}-${valid.optimizer.name}-seed${valid.seed}-${hash8(valid)}`;
}

/** The spec of a sweep point: a run spec without its `seed` and `name`. */
export type PointSpec = Omit<RunSpec, 'seed' | 'name'>;

/** A run spec's point: the spec without its seed and label. */
export function pointSpec(spec: RunSpec | PointSpec): PointSpec {
  const { seed: _seed, name: _name, ...rest } = spec as RunSpec;
  return rest;
}

/**
 * The id of a spec's sweep point: `<dataset>-<model>-<optimizer>-<hash8>` over the spec without its
 * `seed` and `name`, so the runs of one point (its seeds) share it and nothing else does.
 */
export function pointId(spec: RunSpec | PointSpec): string {
  const p = pointSpec(spec);
  return `${p.dataset.name}-${p.model}-${p.optimizer.name}-${hash8(p)}`;
}

/** Whether two specs are the same run (canonical JSON equality). */
export function sameSpec(a: RunSpec, b: RunSpec): boolean {
  return canonicalJson(a) === canonicalJson(b);
}
