/**
 * Construction-time checks for optimiser options: every error names the option and what is allowed.
 */

/** Returns `value` if it is a finite number >= 0, else throws naming `name`. */
export function requireFiniteNonNegative(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`${name} must be a finite number >= 0, got ${describe(value)}`);
  }
  return value;
}

/** Returns `value` if it is one of `allowed`, else throws naming `name` and the allowed values. */
export function requireOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new Error(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
  }
  return value as T;
}

/** Throws if `options` has a key outside `known` (a typo would otherwise be silently ignored). */
export function rejectUnknownKeys(where: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new Error(`${where}: unknown option '${key}'; allowed options are ${known.join(', ')}`);
    }
  }
}

/** A short printable form of an arbitrary value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  if (typeof value === 'function') return 'a function';
  return Object.prototype.toString.call(value);
}
