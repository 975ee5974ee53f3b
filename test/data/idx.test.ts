import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readIdxFile, writeIdxFile } from '../../src/data/idx.js';

const dir = mkdtempSync(join(tmpdir(), 'flatminima-idx-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function pattern(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 37 + 11) % 256);
}

/** Escapes a path for use inside a RegExp. */
function re(path: string): string {
  return path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

test('writeIdxFile then readIdxFile round-trips, plain and gzip', () => {
  for (const [name, dims] of [
    ['images', [3, 4, 5]],
    ['labels', [7]],
    ['empty', [0, 4]],
    ['four-d', [2, 1, 3, 2]],
  ] as const) {
    const data = pattern(dims.reduce((a: number, b: number) => a * b, 1));
    for (const file of [join(dir, `${name}-idx`), join(dir, `${name}-idx.gz`)]) {
      writeIdxFile(file, [...dims], data);
      const raw = readFileSync(file);
      assert.equal(raw[0] === 0x1f && raw[1] === 0x8b, file.endsWith('.gz'), `${file} gzip by name`);
      const back = readIdxFile(file);
      assert.deepEqual(back.dims, [...dims]);
      assert.equal(back.dtype, 'uint8');
      assert.deepEqual(Array.from(back.data), Array.from(data));
    }
  }
});

test('writeIdxFile writes the documented header byte for byte', () => {
  const file = join(dir, 'header');
  writeIdxFile(file, [2, 3], Uint8Array.from([1, 2, 3, 4, 5, 6]));
  assert.deepEqual(Array.from(readFileSync(file)), [0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]);
});

test('gzip is detected by magic bytes, and opts.gzip overrides the name', () => {
  const file = join(dir, 'compressed-without-suffix');
  writeIdxFile(file, [4], pattern(4), { gzip: true });
  assert.deepEqual(Array.from(readIdxFile(file).data), Array.from(pattern(4)));
  const plain = join(dir, 'plain.gz');
  writeIdxFile(plain, [4], pattern(4), { gzip: false });
  assert.throws(
    () => readIdxFile(plain),
    new RegExp(`${re(plain)}: the name ends in .gz but the file does not start with the gzip magic bytes`),
  );
});

test('readIdxFile decodes every IDX data type big-endian (hand-encoded files)', () => {
  const cases: { code: number; dtype: string; body: number[]; values: number[] }[] = [
    { code: 0x09, dtype: 'int8', body: [0xff, 0x80, 0x7f], values: [-1, -128, 127] },
    { code: 0x0b, dtype: 'int16', body: [0xff, 0xfe, 0x01, 0x00, 0x80, 0x00], values: [-2, 256, -32768] },
    { code: 0x0c, dtype: 'int32', body: [0x00, 0x01, 0x00, 0x00, 0xff, 0xff, 0xff, 0xfd], values: [65536, -3] },
    { code: 0x0d, dtype: 'float32', body: [0x3f, 0xc0, 0x00, 0x00, 0xc0, 0x20, 0x00, 0x00], values: [1.5, -2.5] },
    { code: 0x0e, dtype: 'float64', body: [0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18], values: [3.141592653589793] },
  ];
  for (const c of cases) {
    const file = join(dir, `typed-${c.dtype}`);
    writeFileSync(file, Uint8Array.from([0, 0, c.code, 1, 0, 0, 0, c.values.length, ...c.body]));
    const back = readIdxFile(file);
    assert.equal(back.dtype, c.dtype);
    assert.deepEqual(back.dims, [c.values.length]);
    assert.deepEqual(Array.from(back.data), c.values);
  }
});

test('readIdxFile rejects damaged files with a message naming the file and the problem', () => {
  const good = readFileSync(
    (() => {
      const f = join(dir, 'good');
      writeIdxFile(f, [2, 3, 4], pattern(24));
      return f;
    })(),
  );
  const cases: { name: string; bytes: Uint8Array; message: RegExp }[] = [
    {
      name: 'truncated',
      bytes: good.subarray(0, good.length - 5),
      message: /truncated: dims \[2, 3, 4\] of uint8 need 24 data bytes, found 19 \(missing 5\)/,
    },
    { name: 'trailing', bytes: Buffer.concat([good, Buffer.from([1, 2, 3])]), message: /3 trailing bytes after the 24 data bytes/ },
    {
      name: 'wrong-magic',
      bytes: Buffer.concat([Buffer.from([0x08, 0x03, 0x00, 0x00]), good.subarray(4)]),
      message: /bad magic number 0x08030000; an IDX file starts with two zero bytes/,
    },
    {
      name: 'unknown-dtype',
      bytes: Buffer.concat([Buffer.from([0, 0, 0x07, 3]), good.subarray(4)]),
      message: /unknown data type byte 0x07 \(allowed: 0x08 uint8, 0x09 int8, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e float64\)/,
    },
    { name: 'zero-dims', bytes: Buffer.from([0, 0, 8, 0]), message: /declares 0 dimensions/ },
    {
      name: 'wrong-dims',
      bytes: Buffer.concat([good.subarray(0, 4), Buffer.from([0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 5]), good.subarray(16)]),
      message: /truncated: dims \[2, 3, 5\] of uint8 need 30 data bytes, found 24/,
    },
    {
      name: 'wrong-ndims',
      bytes: Buffer.concat([Buffer.from([0, 0, 8, 2]), good.subarray(4)]),
      message: /22 trailing bytes after the 6 data bytes of dims \[2, 3\]/,
    },
    {
      name: 'huge-dims',
      bytes: Buffer.concat([
        good.subarray(0, 4),
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 4]),
        good.subarray(16),
      ]),
      message: /truncated: dims \[4294967295, 4294967295, 4\]/,
    },
    {
      name: 'truncated-header',
      bytes: good.subarray(0, 10),
      message: /truncated header: 3 dimensions need 16 header bytes, the file has 10/,
    },
    { name: 'tiny', bytes: Buffer.from([0, 0]), message: /only 2 bytes long, too short for the 4-byte magic number/ },
    {
      name: 'corrupt.gz',
      bytes: (() => {
        const z = Buffer.from(gzipSync(good));
        z[z.length - 6] ^= 0xff;
        return z;
      })(),
      message: /corrupt gzip data/,
    },
    { name: 'truncated.gz', bytes: gzipSync(good).subarray(0, 20), message: /corrupt gzip data/ },
    { name: 'gzip-of-truncated.gz', bytes: gzipSync(good.subarray(0, 30)), message: /truncated: dims \[2, 3, 4\]/ },
  ];
  for (const c of cases) {
    const file = join(dir, c.name);
    writeFileSync(file, c.bytes);
    assert.throws(
      () => readIdxFile(file),
      (err: unknown) => {
        assert.ok(err instanceof Error, `${c.name}: throws an Error`);
        assert.ok(err.message.startsWith(`IDX file ${file}: `), `${c.name}: message names the file: ${err.message}`);
        assert.match(err.message, c.message, c.name);
        return true;
      },
    );
  }
  const missing = join(dir, 'does-not-exist');
  assert.throws(() => readIdxFile(missing), new RegExp(`IDX file ${re(missing)}: cannot be read \\(ENOENT`));
});

test('writeIdxFile rejects bad arguments', () => {
  const file = join(dir, 'bad');
  assert.throws(() => writeIdxFile(file, [2, 2], pattern(3)), /dims \[2, 2\] hold 4 values but data has 3/);
  assert.throws(() => writeIdxFile(file, [], pattern(1)), /dims must be an array of 1 to 255 dimensions/);
  assert.throws(() => writeIdxFile(file, [-1], pattern(1)), /dims must be integers in \[0, 4294967295\], got \[-1\]/);
  assert.throws(() => writeIdxFile(file, [1.5], pattern(1)), /dims must be integers/);
  assert.throws(() => writeIdxFile('', [1], pattern(1)), /path must be a non-empty string/);
  assert.throws(() => writeIdxFile(file, [1], [1] as unknown as Uint8Array), /data must be a Uint8Array/);
});
