/**
 * Option checks shared by the sharpness measures. Every bad option is an Error that names the
 * function, the option and the allowed range (a TypeError for a value of the wrong type, a
 * RangeError for one out of range); nothing is clamped silently.
 */
import * as tf from '@tensorflow/tfjs';
import type { Objective } from './objective.js';

/** How a Hessian-vector product is computed (see hvp.ts). */
export type HvpMethod = 'auto' | 'double-backprop' | 'finite-difference';

const HVP_METHODS: readonly HvpMethod[] = ['auto', 'double-backprop', 'finite-difference'];

interface NumberRule {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number;
  minExclusive?: boolean;
  /** Largest allowed value (inclusive unless `maxExclusive`). */
  max?: number;
  maxExclusive?: boolean;
  integer?: boolean;
  /** What a bound stands for, shown after the range: e.g. 'the number of parameters'. */
  note?: string;
}

function describe(rule: NumberRule): string {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`${rule.maxExclusive ? '<' : '<='} ${rule.max}`);
  const kind = rule.integer ? 'an integer' : 'a finite number';
  const range = parts.length > 0 ? `${kind} ${parts.join(' and ')}` : kind;
  return rule.note !== undefined ? `${range} (${rule.note})` : range;
}

/** Returns `value` (or `fallback` when undefined) after checking it against `rule`. */
export function checkNumber(fn: string, name: string, value: unknown, fallback: number | undefined, rule: NumberRule): number {
  const v = value === undefined ? fallback : value;
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (!rule.integer || Number.isInteger(v)) &&
    (rule.min === undefined || (rule.minExclusive ? v > rule.min : v >= rule.min)) &&
    (rule.max === undefined || (rule.maxExclusive ? v < rule.max : v <= rule.max));
  if (!ok) {
    const message = `${fn}: ${name} must be ${describe(rule)}, got ${String(v)}`;
    throw typeof v === 'number' ? new RangeError(message) : new TypeError(message);
  }
  return v as number;
}

/** Checks a seed (any integer; the measures draw their random vectors from `Rng(seed)`). */
export function checkSeed(fn: string, value: unknown, fallback: number): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    const message = `${fn}: seed must be an integer, got ${String(v)}`;
    throw typeof v === 'number' ? new RangeError(message) : new TypeError(message);
  }
  return v;
}

/** Checks an HVP method name. */
export function checkMethod(fn: string, value: unknown): HvpMethod {
  const v = value === undefined ? 'auto' : value;
  if (!HVP_METHODS.includes(v as HvpMethod)) {
    throw new RangeError(`${fn}: method must be one of ${HVP_METHODS.map((m) => `'${m}'`).join(', ')}, got ${String(v)}`);
  }
  return v as HvpMethod;
}

/** Checks a string option against its allowed values. */
export function checkChoice<T extends string>(fn: string, name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  const v = value === undefined ? fallback : value;
  if (!allowed.includes(v as T)) {
    throw new RangeError(`${fn}: ${name} must be one of ${allowed.map((m) => `'${m}'`).join(', ')}, got ${String(v)}`);
  }
  return v as T;
}

/** Checks an optional boolean option. */
export function checkBoolean(fn: string, name: string, value: unknown, fallback: boolean): boolean {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'boolean') throw new TypeError(`${fn}: ${name} must be a boolean, got ${String(v)}`);
  return v;
}

/** Checks that an options argument is an object (or undefined, read as {}). */
export function checkOptions<T extends object>(fn: string, opts: T | undefined): T {
  if (opts === undefined) return {} as T;
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new TypeError(`${fn}: options must be an object, got ${String(opts)}`);
  return opts;
}

/** Checks that `obj` is an Objective over distinct, trainable float32 variables. */
export function checkObjective(fn: string, obj: Objective): void {
  if (obj === null || typeof obj !== 'object') throw new Error(`${fn}: obj must be an Objective { vars, loss }`);
  if (typeof obj.loss !== 'function') throw new Error(`${fn}: obj.loss must be a function returning a scalar tensor`);
  if (!Array.isArray(obj.vars) || obj.vars.length === 0) throw new Error(`${fn}: obj.vars must be a non-empty array of tf.Variable`);
  const names = new Set<string>();
  obj.vars.forEach((v, i) => {
    if (!(v instanceof tf.Variable)) throw new Error(`${fn}: obj.vars[${i}] must be a tf.Variable`);
    if (v.isDisposed) throw new Error(`${fn}: obj.vars[${i}] (${v.name}) is disposed`);
    if (!v.trainable) throw new Error(`${fn}: obj.vars[${i}] (${v.name}) must be trainable (tf.variableGrads skips others)`);
    if (v.dtype !== 'float32') throw new Error(`${fn}: obj.vars[${i}] (${v.name}) must be float32, got ${v.dtype}`);
    if (names.has(v.name)) throw new Error(`${fn}: obj.vars[${i}] (${v.name}) appears twice`);
    names.add(v.name);
  });
  if (obj.chunks !== undefined) {
    if (!Array.isArray(obj.chunks) || obj.chunks.length === 0) throw new Error(`${fn}: obj.chunks must be a non-empty array when given`);
    obj.chunks.forEach((c, i) => {
      if (typeof c.loss !== 'function') throw new Error(`${fn}: obj.chunks[${i}].loss must be a function`);
      if (typeof c.weight !== 'number' || !Number.isFinite(c.weight) || c.weight < 0) {
        throw new Error(`${fn}: obj.chunks[${i}].weight must be a finite number >= 0, got ${String(c.weight)}`);
      }
    });
  }
}
