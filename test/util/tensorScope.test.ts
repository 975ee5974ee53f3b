/** TensorScope: what a computation owns is freed once, what it keeps survives, on return and on throw. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { withOwnership } from '../../src/util/tensorScope.js';

tf.setBackend('cpu');

test('owned tensors are disposed, kept ones returned, variables never touched', () => {
  const v = tf.variable(tf.scalar(1));
  const before = tf.memory().numTensors;
  let inner: tf.Tensor[] = [];
  const out = withOwnership((scope) => {
    const a = scope.own(tf.scalar(1));
    const pair = scope.own({ x: tf.scalar(2), list: [tf.scalar(3), a], v });
    inner = [a, pair.x, pair.list[0]];
    return scope.keep({ kept: pair.list[0], v });
  });
  assert.ok(inner[0].isDisposed && inner[1].isDisposed, 'owned and not kept: disposed');
  assert.ok(!out.kept.isDisposed, 'kept: alive');
  assert.ok(!v.isDisposed, 'a variable is never owned');
  assert.equal(tf.memory().numTensors, before + 1);
  out.kept.dispose();
  v.dispose();
});

test('on a throw everything owned is freed, and swap frees the previous iteration at once', () => {
  const before = tf.memory().numTensors;
  assert.throws(
    () =>
      withOwnership((scope) => {
        scope.own([tf.scalar(1), tf.scalar(2)]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(tf.memory().numTensors, before);
  withOwnership((scope) => {
    let x = scope.own([tf.scalar(0)]);
    for (let i = 1; i <= 5; i++) {
      const previous = x;
      x = scope.swap(previous, [tf.add(previous[0], 1)]);
      assert.ok(previous[0].isDisposed);
      assert.equal(tf.memory().numTensors, before + 1, 'one live tensor per iteration');
    }
    assert.equal(x[0].dataSync()[0], 5);
  });
  assert.equal(tf.memory().numTensors, before);
});

test('ownKeptDuring owns what tf.keep saw inside, and puts the engine back', () => {
  const before = tf.memory().numTensors;
  const engine = tf.engine() as unknown as { keep: unknown };
  const original = engine.keep;
  let kept: tf.Tensor | null = null;
  withOwnership((scope) => {
    scope.ownKeptDuring(() =>
      tf.tidy(() => {
        kept = tf.keep(tf.scalar(4));
      }),
    );
    assert.ok(!(kept as unknown as tf.Tensor).isDisposed, 'tf.keep still keeps it through the tidy');
  });
  assert.ok((kept as unknown as tf.Tensor).isDisposed, 'the scope freed it');
  assert.equal(engine.keep, original);
  assert.throws(() =>
    withOwnership((scope) =>
      scope.ownKeptDuring(() => {
        throw new Error('x');
      }),
    ),
  );
  assert.equal(engine.keep, original, 'restored after a throw');
  assert.equal(tf.memory().numTensors, before);
});
