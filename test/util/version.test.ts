/** packageVersion reads this package's own package.json, wherever the module runs from. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { packageVersion } from '../../src/util/version.js';

// Read independently of the module under test: the package.json two levels above this test file.
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { name: string; version: string };

test("packageVersion is package.json's version", () => {
  assert.equal(pkg.name, 'flatminima');
  assert.match(pkg.version, /^\d+\.\d+\.\d+/);
  assert.equal(packageVersion(), pkg.version);
  assert.equal(packageVersion(), packageVersion(), 'stable across calls');
});
