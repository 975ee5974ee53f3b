/**
 * Option checks shared by the sharpness measures. Every bad option is an Error that names the
 * function, the option and the allowed range; nothing is clamped silently.
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
}

function describe(rule: NumberRule): string {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`${rule.maxExclusive ? '<' : '<='} ${rule.max}`);
  const kind = rule.integer ? 'an integer' : 'a finite number';
  return parts.length > 0 ? `${kind} ${parts.join(' and ')}` : kind;
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
  if (!ok) throw new Error(`${fn}: ${name} must be ${describe(rule)}, got ${String(v)}`);
  return v as number;
}

/** Checks a seed (any integer; the measures draw their random vectors from `Rng(seed)`). */
export function checkSeed(fn: string, value: unknown, fallback: number): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`${fn}: seed must be an integer, got ${String(v)}`);
  return v;
}

/** Checks an HVP method name. */
export function checkMethod(fn: string, value: unknown): HvpMethod {
  const v = value === undefined ? 'auto' : value;
  if (!HVP_METHODS.includes(v as HvpMethod)) {
    throw new Error(`${fn}: method must be one of ${HVP_METHODS.map((m) => `'${m}'`).join(', ')}, got ${String(v)}`);
  }
  return v as HvpMethod;
}

/** Checks a string option against its allowed values. */
export function checkChoice<T extends string>(fn: string, name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  const v = value === undefined ? fallback : value;
  if (!allowed.includes(v as T)) {
    throw new Error(`${fn}: ${name} must be one of ${allowed.map((m) => `'${m}'`).join(', ')}, got ${String(v)}`);
  }
  return v as T;
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
