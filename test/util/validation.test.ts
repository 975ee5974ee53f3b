/** The option kit: TypeError for a wrong type, RangeError for a value out of range, messages "<where>: <name> must be ..., got ...". */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  checkBoolean,
  checkChoice,
  checkNumber,
  checkOptionsObject,
  checkSeed,
  describeRule,
  describeValue,
  rejectUnknownKeys,
} from '../../src/util/validation.js';

function throwsKind(fn: () => unknown, kind: typeof TypeError | typeof RangeError, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof kind, `${String(err)} should be a ${kind.name}`);
    assert.equal((err as Error).message, message);
    return true;
  });
}

test('checkNumber: defaults, bounds, integers; wrong type vs out of range', () => {
  assert.equal(checkNumber('f', 'x', undefined, 3, { min: 0 }), 3);
  assert.equal(checkNumber('f', 'x', 0, undefined, { min: 0 }), 0);
  assert.equal(checkNumber('f', 'x', 2, undefined, { min: 0, minExclusive: true, max: 2 }), 2);
  throwsKind(() => checkNumber('f', 'x', '1', undefined, { min: 0 }), TypeError, "f: x must be a finite number >= 0, got '1'");
  throwsKind(() => checkNumber('f', 'x', undefined, undefined, { min: 0 }), TypeError, 'f: x must be a finite number >= 0, got undefined');
  throwsKind(() => checkNumber('f', 'x', -1, undefined, { min: 0 }), RangeError, 'f: x must be a finite number >= 0, got -1');
  throwsKind(() => checkNumber('f', 'x', Number.NaN, undefined, {}), RangeError, 'f: x must be a finite number, got NaN');
  throwsKind(() => checkNumber('f', 'x', Infinity, undefined, { max: 1 }), RangeError, 'f: x must be a finite number <= 1, got Infinity');
  throwsKind(
    () => checkNumber('f', 'x', 0, undefined, { min: 0, minExclusive: true, max: 1, maxExclusive: true }),
    RangeError,
    'f: x must be a finite number > 0 and < 1, got 0',
  );
  throwsKind(() => checkNumber('f', 'n', 2.5, undefined, { min: 2, integer: true }), RangeError, 'f: n must be an integer >= 2, got 2.5');
  assert.equal(describeRule({ integer: true }), 'an integer');
});

test('checkSeed, checkChoice, checkBoolean, checkOptionsObject, rejectUnknownKeys', () => {
  assert.equal(checkSeed('f', undefined, 7), 7);
  throwsKind(() => checkSeed('f', 0.5, 0), RangeError, 'f: seed must be an integer, got 0.5');
  throwsKind(() => checkSeed('f', '1', 0), TypeError, "f: seed must be an integer, got '1'");
  assert.equal(checkChoice('f', 'mode', undefined, 'a', ['a', 'b']), 'a');
  throwsKind(() => checkChoice('f', 'mode', 'c', 'a', ['a', 'b']), RangeError, "f: mode must be one of 'a', 'b', got 'c'");
  throwsKind(() => checkChoice('f', 'mode', 3, 'a', ['a', 'b']), TypeError, "f: mode must be one of 'a', 'b', got 3");
  assert.equal(checkBoolean('f', 'on', undefined, true), true);
  throwsKind(() => checkBoolean('f', 'on', 'yes', false), TypeError, "f: on must be a boolean, got 'yes'");
  throwsKind(() => checkOptionsObject('f', 'opts', null, '{ rho }'), TypeError, 'f: opts must be an object like { rho }, got null');
  throwsKind(
    () => checkOptionsObject('f', 'opts', [1], '{ rho }'),
    TypeError,
    'f: opts must be an object like { rho }, got an array of length 1',
  );
  throwsKind(
    () => rejectUnknownKeys('SAM', { rho: 1, alpah: 2 }, ['rho', 'alpha']),
    TypeError,
    "SAM: unknown option 'alpah'; allowed options are rho, alpha",
  );
  assert.equal(
    describeValue(() => 1),
    'a function',
  );
  assert.equal(describeValue({}), '[object Object]');
});
