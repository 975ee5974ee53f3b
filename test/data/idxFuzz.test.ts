import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Rng } from '../../src/util/random.js';
import { readIdxFile, writeIdxFile } from '../../src/data/idx.js';
import { loadIdxDataset } from '../../src/data/idxDataset.js';

const root = mkdtempSync(join(tmpdir(), 'flatminima-idxfuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

/** One random damage: flip bytes (anywhere or in the header), truncate, extend, or a mix. */
function damage(bytes: Uint8Array, rng: Rng): Uint8Array {
  let out: Uint8Array = Uint8Array.from(bytes);
  const kind = rng.int(5);
  const flip = (limit: number) => {
    const k = 1 + rng.int(4);
    for (let i = 0; i < k && out.length > 0; i++) out[rng.int(Math.min(limit, out.length))] ^= 1 + rng.int(255);
  };
  if (kind === 0) flip(out.length);
  if (kind === 1) flip(16);
  if (kind === 2 || kind === 4) out = out.slice(0, rng.int(out.length));
  if (kind === 3 || kind === 4) {
    const extra = Uint8Array.from({ length: 1 + rng.int(16) }, () => rng.int(256));
    const grown = new Uint8Array(out.length + extra.length);
    grown.set(out);
    grown.set(extra, out.length);
    out = grown;
  }
  if (kind === 4) flip(out.length);
  return out;
}

function pattern(n: number, salt: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) % 256);
}

test('fuzz: randomly damaged IDX files either load consistently or throw an Error naming the file', { timeout: 30_000 }, () => {
  const base = join(root, 'base');
  mkdirSync(base);
  const originals: { name: string; bytes: Uint8Array }[] = [];
  for (const [name, dims] of [
    ['images', [6, 4, 4]],
    ['labels', [6]],
  ] as const) {
    for (const suffix of ['', '.gz']) {
      const file = join(base, `${name}${suffix}`);
      writeIdxFile(
        file,
        [...dims],
        pattern(
          dims.reduce((a, b) => a * b, 1),
          name.length,
        ),
      );
      originals.push({ name: `${name}${suffix}`, bytes: readFileSync(file) });
    }
  }
  // A multi-byte type too, so that element-size arithmetic is exercised.
  originals.push({ name: 'int32', bytes: Uint8Array.from([0, 0, 0x0c, 2, 0, 0, 0, 2, 0, 0, 0, 2, ...pattern(16, 5)]) });

  const rng = new Rng(20261127);
  let loaded = 0;
  let rejected = 0;
  const started = Date.now();
  for (let iter = 0; iter < 400; iter++) {
    const original = originals[rng.int(originals.length)];
    const file = join(root, `fuzz-${iter}-${original.name}`);
    writeFileSync(file, damage(original.bytes, rng));
    let result: ReturnType<typeof readIdxFile> | undefined;
    try {
      result = readIdxFile(file);
    } catch (err) {
      assert.ok(err instanceof Error, `iteration ${iter}: threw a non-Error ${String(err)}`);
      assert.ok(err.message.includes(file), `iteration ${iter}: message does not name the file: ${err.message}`);
      rejected++;
    }
    if (result !== undefined) {
      loaded++;
      assert.ok(['uint8', 'int8', 'int16', 'int32', 'float32', 'float64'].includes(result.dtype));
      assert.ok(result.dims.length >= 1);
      assert.equal(
        result.data.length,
        result.dims.reduce((a, b) => a * b, 1),
        `iteration ${iter}: data length matches dims`,
      );
      const again = readIdxFile(file);
      assert.deepEqual(again.dims, result.dims);
      assert.deepEqual(Array.from(again.data), Array.from(result.data));
    }
    rmSync(file);
  }
  // Byte flips inside the pixel data of a plain file are undetectable, so both outcomes must occur.
  assert.ok(loaded > 0 && rejected > 0, `loaded ${loaded}, rejected ${rejected}`);
  assert.ok(Date.now() - started < 10_000, 'fuzzing 400 files took over 10 s');
});

test('fuzz: a dataset directory with one randomly damaged file loads consistently or throws naming it', { timeout: 30_000 }, () => {
  const names = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte'];
  const dims = [[8, 3, 3], [8], [4, 3, 3], [4]];
  const originals = names.map((name, i) => {
    const file = join(root, `orig-${name}`);
    const n = dims[i].reduce((a, b) => a * b, 1);
    // Labels 0..9 so that labels damaged to >= 10 are caught by the class check.
    const data = i % 2 === 1 ? Uint8Array.from({ length: n }, (_, k) => k % 10) : pattern(n, i);
    writeIdxFile(file, dims[i], data);
    return readFileSync(file);
  });
  const rng = new Rng(7);
  let loaded = 0;
  let rejected = 0;
  for (let iter = 0; iter < 200; iter++) {
    const dir = join(root, `dir-${iter}`);
    mkdirSync(dir);
    const victim = rng.int(4);
    names.forEach((name, i) => writeFileSync(join(dir, name), i === victim ? damage(originals[i], rng) : originals[i]));
    try {
      const { train, test: held } = loadIdxDataset(dir);
      loaded++;
      for (const part of [train, held]) {
        assert.equal(part.x.length, part.size * 9);
        assert.ok(part.y.every((label) => label >= 0 && label < 10));
        assert.ok(part.x.every((v) => v >= 0 && v <= 1));
      }
    } catch (err) {
      assert.ok(err instanceof Error, `iteration ${iter}: threw a non-Error ${String(err)}`);
      assert.ok(
        err.message.includes(join(dir, names[victim])),
        `iteration ${iter}: message does not name ${names[victim]}: ${err.message}`,
      );
      rejected++;
    }
    rmSync(dir, { recursive: true });
  }
  assert.ok(loaded > 0 && rejected > 0, `loaded ${loaded}, rejected ${rejected}`);
});
