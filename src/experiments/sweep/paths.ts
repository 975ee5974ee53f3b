/**
 * Spec fields named by dotted path (`optimizer.rho`, `base.learningRate`, `dataset.n`), as sweep files
 * name them: which paths exist (read off the run-spec schema itself, so a field added to the schema is
 * sweepable at once), the schema of the value at a path, and setting a value at a path.
 */
import { closest, distance } from 'fastest-levenshtein';
import { z } from 'zod';
import { RunSpecSchema } from '../schema.js';

/** Peels optional / nullable / default wrappers off a schema. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodType;
    else if (s instanceof z.ZodDefault) s = s.unwrap() as z.ZodType;
    else return s;
  }
}

/** Every leaf path of an object schema, e.g. `optimizer.rho`, in schema order. */
function leafPaths(schema: z.ZodType, prefix: string): string[] {
  const s = unwrap(schema);
  if (!(s instanceof z.ZodObject)) return [prefix];
  return Object.entries(s.shape as Record<string, z.ZodType>).flatMap(([key, child]) =>
    leafPaths(child, prefix ? `${prefix}.${key}` : key),
  );
}

/**
 * The fields a sweep may vary, as dotted paths. `seed` is left out (seeds are the sweep's `seeds`)
 * and so is `name` (a label, not a setting).
 */
export const SPEC_PATHS: readonly string[] = leafPaths(RunSpecSchema, '').filter((p) => p !== 'seed' && p !== 'name');

/** The schema of the value at a leaf `path` of the run spec, or null when there is no such field. */
export function schemaAt(path: string): z.ZodType | null {
  if (!SPEC_PATHS.includes(path)) return null;
  let s: z.ZodType = RunSpecSchema;
  for (const key of path.split('.')) {
    const obj = unwrap(s);
    if (!(obj instanceof z.ZodObject)) return null;
    s = (obj.shape as Record<string, z.ZodType>)[key];
  }
  return unwrap(s);
}

/**
 * The known path an unknown one most likely meant, for messages: one with the same last component
 * (`rho` for `optimiser.rho`), else the nearest by edit distance when it is at most 3 edits away.
 */
export function suggestPath(path: string): string | null {
  const last = path.split('.').pop() ?? path;
  const sameLeaf = SPEC_PATHS.find((p) => p.split('.').pop() === last);
  if (sameLeaf !== undefined) return sameLeaf;
  const nearest = closest(path, [...SPEC_PATHS]);
  return distance(path, nearest) <= 3 ? nearest : null;
}

/** A copy of `target` with `value` set at the dotted `path`, creating objects on the way. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const keys = path.split('.');
  const out: Record<string, unknown> = { ...target };
  let node = out;
  for (let i = 0; i < keys.length - 1; i++) {
    const child = node[keys[i]];
    const copy = child !== null && typeof child === 'object' && !Array.isArray(child) ? { ...(child as Record<string, unknown>) } : {};
    node[keys[i]] = copy;
    node = copy;
  }
  node[keys[keys.length - 1]] = value;
  return out;
}

/** The value at a dotted `path` of a plain object, or undefined. */
export function getPath(source: unknown, path: string): unknown {
  let node: unknown = source;
  for (const key of path.split('.')) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}
