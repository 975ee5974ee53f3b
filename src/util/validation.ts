/**
 * The one option-checking kit of the library (optimisers, sharpness measures, models, data). Every
 * failure names where it happened, the option and what is allowed, in the form
 * `"<where>: <name> must be ..., got ..."`, and nothing is clamped silently. A value of the wrong
 * type throws a `TypeError`; a value of the right type outside the allowed range (NaN and ±Infinity
 * included, and a string that is not one of the choices) throws a `RangeError`.
 *
 * Hand-written: zod (used for run specs) would do, but its messages do not follow this form and the
 * browser-safe library would pull it in for a handful of scalar checks.
 */

/** The allowed range of a number option. */
export interface NumberRule {
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  min?: number;
  minExclusive?: boolean;
  /** Largest allowed value (inclusive unless `maxExclusive`). */
  max?: number;
  maxExclusive?: boolean;
  /** Only integers are allowed. */
  integer?: boolean;
  /** What a bound stands for, shown after the range: e.g. 'the number of parameters'. */
  note?: string;
}

/** A short printable form of an arbitrary value for error messages (strings quoted). */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return Object.prototype.toString.call(value);
}

/** What `rule` allows, in words: e.g. `an integer >= 2`, `a finite number > 0 and <= 0.1`. */
export function describeRule(rule: NumberRule): string {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`${rule.minExclusive ? '>' : '>='} ${rule.min}`);
  if (rule.max !== undefined) parts.push(`${rule.maxExclusive ? '<' : '<='} ${rule.max}`);
  const kind = rule.integer ? 'an integer' : 'a finite number';
  const range = parts.length > 0 ? `${kind} ${parts.join(' and ')}` : kind;
  return rule.note !== undefined ? `${range} (${rule.note})` : range;
}

/** True when the number `v` satisfies `rule`. */
function satisfies(v: number, rule: NumberRule): boolean {
  return (
    Number.isFinite(v) &&
    (!rule.integer || Number.isInteger(v)) &&
    (rule.min === undefined || (rule.minExclusive ? v > rule.min : v >= rule.min)) &&
    (rule.max === undefined || (rule.maxExclusive ? v < rule.max : v <= rule.max))
  );
}

/**
 * Returns `value` (or `fallback` when `value` is undefined) after checking it against `rule`.
 * @throws TypeError when it is not a number; RangeError when it is outside `rule`.
 */
export function checkNumber(where: string, name: string, value: unknown, fallback: number | undefined, rule: NumberRule): number {
  const v = value === undefined ? fallback : value;
  // The message is built only on failure: the optimisers check their settings on every step.
  const message = (): string => `${where}: ${name} must be ${describeRule(rule)}, got ${describeValue(v)}`;
  if (typeof v !== 'number') throw new TypeError(message());
  if (!satisfies(v, rule)) throw new RangeError(message());
  return v;
}

/** A seed: any integer (the library draws from `Rng(seed)`). */
export function checkSeed(where: string, value: unknown, fallback: number): number {
  const v = value === undefined ? fallback : value;
  const message = (): string => `${where}: seed must be an integer, got ${describeValue(v)}`;
  if (typeof v !== 'number') throw new TypeError(message());
  if (!Number.isInteger(v)) throw new RangeError(message());
  return v;
}

/**
 * Returns `value` (or `fallback` when undefined) if it is one of `allowed`.
 * @throws TypeError when it is not a string; RangeError when it is another string.
 */
export function checkChoice<T extends string>(where: string, name: string, value: unknown, fallback: T, allowed: readonly T[]): T {
  const v = value === undefined ? fallback : value;
  const message = (): string => `${where}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(v)}`;
  if (typeof v !== 'string') throw new TypeError(message());
  if (!(allowed as readonly string[]).includes(v)) throw new RangeError(message());
  return v as T;
}

/** Returns `value` (or `fallback` when undefined) if it is a boolean, else throws a TypeError. */
export function checkBoolean(where: string, name: string, value: unknown, fallback: boolean): boolean {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'boolean') throw new TypeError(`${where}: ${name} must be a boolean, got ${describeValue(v)}`);
  return v;
}

/** Throws a TypeError when the options argument `name` is not an object (null and arrays included). */
export function checkOptionsObject(where: string, name: string, options: unknown, example: string): asserts options is object {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`${where}: ${name} must be an object like ${example}, got ${describeValue(options)}`);
  }
}

/** Throws a TypeError if `options` has a key outside `known` (a typo would otherwise be silently ignored). */
export function rejectUnknownKeys(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${where}: unknown option '${key}'; allowed options are ${known.join(', ')}`);
    }
  }
}

/**
 * An optional options argument: `{}` when undefined, else the object itself.
 * @throws TypeError when it is given but is not a plain object.
 */
export function optionsOrEmpty<T extends object>(where: string, options: T | undefined): T {
  if (options === undefined) return {} as T;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw new TypeError(`${where}: options must be an object, got ${describeValue(options)}`);
  return options;
}
