/**
 * What flatminima keeps in Redis beside the queue, against a real redis-server: checkpoints (the exact
 * bytes of the checkpoint file format, checksum included; never overwritten by an older step) and the
 * final models (only written out when their weights hash to the record's weightsSha256).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Redis } from 'ioredis';
import { encodeCheckpointBytes, type CheckpointData } from '../../../src/experiments/checkpoint.js';
import { closeRedisClient, connectChecked, createRedisClient, parseRedisUrl } from '../../../src/experiments/queue/connection.js';
import { checkpointKey, modelKey } from '../../../src/experiments/queue/keys.js';
import { downloadModel, uploadModel } from '../../../src/experiments/queue/modelTransfer.js';
import { RedisCheckpointStore } from '../../../src/experiments/queue/redisCheckpointStore.js';
import { newRecord } from '../../../src/experiments/store.js';
import { tempResults, tinySpec } from '../helpers.js';
import { REDIS_SKIP, startRedis, type RedisServer } from './redisServer.js';

let server: RedisServer;
let client: Redis;
const QUEUE = 'q';

before(async () => {
  if (REDIS_SKIP) return;
  server = await startRedis();
  const target = parseRedisUrl(server.url);
  client = createRedisClient(target);
  await connectChecked(client, target);
});

after(async () => {
  if (REDIS_SKIP) return;
  await closeRedisClient(client);
  await server.stop();
});

function checkpoint(globalStep: number): CheckpointData {
  return {
    epoch: 1,
    globalStep,
    rngState: [1, 2, 3, 4],
    partialEpoch: { step: 3, sums: { loss: 1.25, correct: 7, perturbedLoss: 1.5, surrogateGap: 0.25 }, seconds: 0.5 },
    record: { ...newRecord('r', tinySpec(), { backend: 'cpu', threads: null, versions: {} }), startedAt: '2026-01-01T00:00:00.000Z' },
    modelWeights: [{ name: 'dense/kernel', shape: [2, 2], dtype: 'float32', data: Float32Array.from([1, -2, 3.5, globalStep]) }],
    optimizerWeights: [{ name: 'iter', shape: [], dtype: 'int32', data: Int32Array.from([globalStep]) }],
  };
}

test('a checkpoint is stored as the exact bytes of the file format and loads back equal', { skip: REDIS_SKIP }, async () => {
  const store = new RedisCheckpointStore(client, QUEUE, server.url);
  assert.equal(await store.load('run-a'), null, 'no checkpoint yet');
  await store.save('run-a', checkpoint(25));
  const stored = await client.hgetBuffer(checkpointKey(QUEUE, 'run-a'), 'bytes');
  assert.ok(stored !== null && stored.equals(encodeCheckpointBytes(checkpoint(25))), 'stored bytes = encodeCheckpointBytes');
  const back = await store.load('run-a');
  assert.deepEqual(back?.data, checkpoint(25));
  assert.match(back?.source ?? '', /^flatminima:q:checkpoint:run-a on redis:\/\/127\.0\.0\.1:\d+$/);
});

test('a damaged stored checkpoint is refused by its checksum, naming the key', { skip: REDIS_SKIP }, async () => {
  const store = new RedisCheckpointStore(client, QUEUE, server.url);
  await store.save('run-b', checkpoint(10));
  const bytes = (await client.hgetBuffer(checkpointKey(QUEUE, 'run-b'), 'bytes'))!;
  bytes[bytes.length - 1] ^= 0xff; // flip the last tensor byte
  await client.hset(checkpointKey(QUEUE, 'run-b'), 'bytes', bytes);
  await assert.rejects(store.load('run-b'), /checkpoint flatminima:q:checkpoint:run-b on redis:.* is unusable: checksum mismatch/);
});

test('a save from a worker that is behind never replaces a checkpoint further along', { skip: REDIS_SKIP }, async () => {
  const store = new RedisCheckpointStore(client, QUEUE, server.url);
  await store.save('run-c', checkpoint(40));
  await store.save('run-c', checkpoint(20));
  assert.equal((await store.load('run-c'))?.data.globalStep, 40);
  await store.save('run-c', checkpoint(60));
  assert.equal((await store.load('run-c'))?.data.globalStep, 60);
  await store.remove('run-c');
  assert.equal(await store.load('run-c'), null);
});

test('a model goes up as its two files and comes down byte for byte when its weights match the record', { skip: REDIS_SKIP }, async () => {
  const src = join(tempResults(), 'model');
  mkdirSync(src);
  const weights = Buffer.from(Float32Array.from([0.5, -1, 2]).buffer);
  writeFileSync(join(src, 'weights.bin'), weights);
  writeFileSync(join(src, 'model.json'), '{"format":"layers-model"}\n');
  await uploadModel(client, QUEUE, 'run-d', src, 60);
  const ttl = await client.ttl(modelKey(QUEUE, 'run-d'));
  assert.ok(ttl > 0 && ttl <= 60, `the model expires (ttl ${ttl})`);
  const sha = createHash('sha256').update(weights).digest('hex');
  const dest = join(tempResults(), 'model');
  assert.deepEqual(await downloadModel(client, QUEUE, 'run-d', dest, sha), { written: true });
  assert.ok(readFileSync(join(dest, 'weights.bin')).equals(weights));
  assert.equal(readFileSync(join(dest, 'model.json'), 'utf8'), '{"format":"layers-model"}\n');

  const other = join(tempResults(), 'model');
  const wrong = await downloadModel(client, QUEUE, 'run-d', other, '0'.repeat(64));
  assert.equal(wrong.written, false);
  assert.match((wrong as { why: string }).why, new RegExp(`stored weights hash to ${sha}`));
  assert.equal((await downloadModel(client, QUEUE, 'never-uploaded', other, sha)).written, false);
});
