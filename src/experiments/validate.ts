/**
 * Validation of run specs and records with one readable message per bad field, so a spec file,
 * a CLI invocation or a damaged record on disk is rejected with a message that names the field.
 */
import type { z } from 'zod';
import { methodRow, methodsTaking, SPEC_FIELDS } from '../optimizers/index.js';
import { RunRecordSchema, RunSpecSchema, type OptimizerSpec, type RunRecord, type RunSpec } from './schema.js';

/** Formats zod issues as one line per issue: `<path>: <message>` (path `(root)` for the whole value). */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const pathOf = (path: readonly PropertyKey[]): string =>
    path.length === 0
      ? '(root)'
      : path
          .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
          .join('.')
          .replace(/\.\[/g, '[');
  return issues.flatMap((issue) =>
    // An unknown key is reported at its own path, one line per key, so the user sees where it is.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${pathOf([...issue.path, key])}: unknown key`)
      : [`${pathOf(issue.path)}: ${issue.message}`],
  );
}

/** Thrown for a spec or record that fails its schema; `issues` holds one line per bad field. */
export class ValidationError extends Error {
  /** One `<path>: <message>` line per bad field. */
  readonly issues: string[];
  constructor(what: string, issues: string[]) {
    super(`invalid ${what}:\n  ${issues.join('\n  ')}`);
    this.name = 'ValidationError';
    this.issues = issues;
  }
}

/**
 * Checks an unknown value (parsed JSON, CLI options) against {@link RunSpecSchema}.
 * @param what names the source in the error message, e.g. a file name.
 * @throws ValidationError listing every bad field.
 */
export function parseRunSpec(value: unknown, what = 'run spec'): RunSpec {
  const result = RunSpecSchema.safeParse(value);
  if (!result.success) throw new ValidationError(what, formatIssues(result.error.issues));
  return checkSpecConsistency(result.data, what);
}

/** Checks an unknown value against {@link RunRecordSchema}. @throws ValidationError listing every bad field. */
export function parseRunRecord(value: unknown, what = 'run record'): RunRecord {
  const result = RunRecordSchema.safeParse(value);
  if (!result.success) throw new ValidationError(what, formatIssues(result.error.issues));
  return result.data;
}

/** Rules that span fields and so cannot live in the field schemas. */
function checkSpecConsistency(spec: RunSpec, what: string): RunSpec {
  const issues: string[] = [];
  if (spec.dataset.name === 'idx' && spec.dataset.dir === undefined) {
    issues.push('dataset.dir: required when dataset.name is "idx" (a directory of IDX files)');
  }
  if (spec.dataset.name !== 'idx') {
    for (const key of ['dir', 'maxTrain', 'maxTest'] as const) {
      if (spec.dataset[key] !== undefined) issues.push(`dataset.${key}: only allowed when dataset.name is "idx"`);
    }
  }
  if (spec.dataset.name !== 'moons' && spec.dataset.noise !== undefined) {
    issues.push('dataset.noise: only allowed when dataset.name is "moons"');
  }
  if (spec.dataset.name === 'moons' && spec.model !== 'mlp') {
    issues.push('model: moons has 2-D points, so the model must be "mlp"');
  }
  const opt = spec.optimizer;
  if (opt.rhoMin !== undefined && opt.rhoSchedule !== 'proportional') {
    issues.push('optimizer.rhoMin: only used with optimizer.rhoSchedule "proportional"');
  }
  if (opt.rhoMin !== undefined && opt.rho !== undefined && opt.rhoMin > opt.rho) {
    issues.push(`optimizer.rhoMin: must be <= optimizer.rho (${opt.rho}), got ${opt.rhoMin}`);
  }
  issues.push(...optimizerFieldIssues(opt, spec.base));
  if (spec.base.momentum !== undefined && spec.base.name !== 'momentum') {
    issues.push('base.momentum: only used with base.name "momentum"');
  }
  if (issues.length > 0) throw new ValidationError(what, issues);
  return spec;
}

/** `"a"`, `"a" and "b"`, `"a", "b" and "c"`. */
function quotedList(names: readonly string[]): string {
  const q = names.map((n) => `"${n}"`);
  return q.length <= 1 ? q.join('') : `${q.slice(0, -1).join(', ')} and ${q[q.length - 1]}`;
}

/**
 * The method table's checks of an optimiser spec: each field present must be one its method takes
 * (`optimizer.alpha: only used by optimizers "gsam" and "agsam"`), then the method's own checks
 * between its fields.
 */
function optimizerFieldIssues(opt: OptimizerSpec, base: { name: string }): string[] {
  const row = methodRow(opt.name);
  const settings = opt as Readonly<Record<string, unknown>>;
  const issues: string[] = [];
  for (const field of Object.keys(SPEC_FIELDS)) {
    if (settings[field] === undefined || field in row.fields) continue;
    const takers = methodsTaking(field);
    issues.push(`optimizer.${field}: only used by ${takers.length === 1 ? 'optimizer' : 'optimizers'} ${quotedList(takers)}`);
  }
  return [...(row.check?.(settings, base) ?? []), ...issues];
}
