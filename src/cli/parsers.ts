/**
 * Commander argument parsers that reject bad values at parse time with a message naming what is
 * allowed; commander prefixes it with the flag (`option '--rho <r>' argument '-1' is invalid.`).
 */
import { InvalidArgumentError } from 'commander';
import { MAX_WASM_THREADS } from '../backend/limits.js';
import { describeRule, type NumberRule } from '../util/validation.js';

function toNumber(value: string): number {
  // Number('') is 0 and Number(' 1 ') is 1: reject both, accept only a plain numeric literal.
  const trimmed = value.trim();
  if (trimmed === '' || trimmed !== value) throw new InvalidArgumentError('Expected a number.');
  const n = Number(value);
  if (Number.isNaN(n)) throw new InvalidArgumentError('Expected a number.');
  if (!Number.isFinite(n)) throw new InvalidArgumentError('Expected a finite number.');
  return n;
}

/**
 * A parser for a number in the range `rule` states (a rule of the method table), with the range in
 * words in its message (`Expected an integer >= 1.`).
 */
export function numberInRange(rule: NumberRule): (value: string) => number {
  return (value: string): number => {
    const n = toNumber(value);
    const ok =
      (!rule.integer || Number.isInteger(n)) &&
      (rule.min === undefined || (rule.minExclusive ? n > rule.min : n >= rule.min)) &&
      (rule.max === undefined || (rule.maxExclusive ? n < rule.max : n <= rule.max));
    if (!ok) throw new InvalidArgumentError(`Expected ${describeRule(rule)}.`);
    return n;
  };
}

/** A finite number >= 0. */
export function nonNegativeNumber(value: string): number {
  const n = toNumber(value);
  if (n < 0) throw new InvalidArgumentError('Expected a number >= 0.');
  return n;
}

/** A finite number > 0. */
export function positiveNumber(value: string): number {
  const n = toNumber(value);
  if (!(n > 0)) throw new InvalidArgumentError('Expected a number > 0.');
  return n;
}

/** A number in the open interval (0, 1). */
export function openUnitInterval(value: string): number {
  const n = toNumber(value);
  if (!(n > 0 && n < 1)) throw new InvalidArgumentError('Expected a number strictly between 0 and 1.');
  return n;
}

/** A number in [0, 1). */
export function momentumCoefficient(value: string): number {
  const n = toNumber(value);
  if (!(n >= 0 && n < 1)) throw new InvalidArgumentError('Expected a number >= 0 and < 1.');
  return n;
}

/** An integer >= 1. */
export function positiveInt(value: string): number {
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('Expected a whole number >= 1.');
  return n;
}

/** wasm threads per run: an integer from 1 to the wasm backend's limit (8 pthread workers). */
export function threadCount(value: string): number {
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 1 || n > MAX_WASM_THREADS) {
    throw new InvalidArgumentError(`Expected a whole number from 1 to ${MAX_WASM_THREADS} (the wasm backend's limit).`);
  }
  return n;
}

/** An integer >= 0. */
export function nonNegativeInt(value: string): number {
  const n = toNumber(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('Expected a whole number >= 0.');
  return n;
}

/** A comma-separated list whose every item is one of `allowed` (no duplicates, at least one). */
export function choiceList<T extends string>(allowed: readonly T[]): (value: string) => T[] {
  return (value: string): T[] => {
    const items = value.split(',').map((s) => s.trim());
    const bad = items.filter((s) => !(allowed as readonly string[]).includes(s));
    if (items.length === 0 || bad.length > 0) {
      const what = bad.length > 0 ? `Unknown ${bad.map((b) => `'${b}'`).join(', ')}. ` : '';
      throw new InvalidArgumentError(`${what}Expected a comma-separated list of: ${allowed.join(', ')}.`);
    }
    const dup = items.find((s, i) => items.indexOf(s) !== i);
    if (dup !== undefined) throw new InvalidArgumentError(`'${dup}' is listed twice.`);
    return items as T[];
  };
}
