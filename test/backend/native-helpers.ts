/**
 * Shared by the native-kernel tests: whether the addon is built here (the tests that need it skip
 * with the reason where it is not, and fail instead under FLATMINIMA_REQUIRE_NATIVE=1, as in CI),
 * and an addon wrapper that counts calls, to check that a kernel really ran natively rather than
 * through its wasm fallback.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NATIVE_ADDON_FUNCTIONS, nativeAddon, type NativeAddon, type NativeStatus } from '../../src/backend/native.js';

/** The addon as this process finds it. */
export const NATIVE: NativeStatus = nativeAddon();

/** node:test's `skip` option for tests that need the built addon. */
export const SKIP_NATIVE: string | false = NATIVE.available
  ? false
  : `needs the native addon, which is ${NATIVE.reason} here` +
    (NATIVE.reason.startsWith('not built') ? ' (`npx flatminima build-native` builds it)' : '');

/** The built addon (call only in tests skipped with SKIP_NATIVE). */
export function builtAddon(): NativeAddon {
  if (!NATIVE.available) throw new Error(`native addon unavailable: ${NATIVE.reason}`);
  return NATIVE.addon;
}

/** A test that fails where FLATMINIMA_REQUIRE_NATIVE=1 (CI) and the addon is missing; passes elsewhere. */
export function requireNativeWhereAsked(): void {
  const required = process.env.FLATMINIMA_REQUIRE_NATIVE === '1';
  test('the native addon is built where FLATMINIMA_REQUIRE_NATIVE=1 asks for it', () => {
    if (required) assert.ok(NATIVE.available, `FLATMINIMA_REQUIRE_NATIVE=1 but ${NATIVE.available ? '' : NATIVE.reason}`);
  });
}

/** Calls per addon function. */
export type CallCounts = Record<string, number>;

/** `addon` with every function counting its calls into `calls`. */
export function countingAddon(addon: NativeAddon): { addon: NativeAddon; calls: CallCounts } {
  const calls: CallCounts = {};
  const wrapped: Record<string, unknown> = {};
  for (const name of NATIVE_ADDON_FUNCTIONS) {
    const f = addon[name] as (...a: unknown[]) => unknown;
    calls[name] = 0;
    wrapped[name] = (...a: unknown[]) => {
      calls[name]!++;
      return f.apply(addon, a);
    };
  }
  return { addon: wrapped as unknown as NativeAddon, calls };
}
