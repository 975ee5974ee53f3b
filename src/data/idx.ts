/**
 * Reader and writer for the IDX format of MNIST and Fashion-MNIST (http://yann.lecun.com/exdb/mnist/),
 * plain or gzip-compressed. The format is a 4-byte header, one big-endian uint32 per dimension and the
 * raw big-endian values; it is small enough that a hand-written reader (with strict validation) is
 * simpler than a dependency. Node only (reads files, inflates with node:zlib).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describeValue } from '../util/validation.js';

/** Element types an IDX file may declare. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** The decoded contents of an IDX file. `data` holds `prod(dims)` values in row-major order. */
export interface IdxFile {
  dims: number[];
  dtype: IdxDtype;
  data: ArrayLike<number>;
}

/** The type byte (third byte of the magic number) of each dtype, and its element size. */
const DTYPES: { code: number; dtype: IdxDtype; bytes: number }[] = [
  { code: 0x08, dtype: 'uint8', bytes: 1 },
  { code: 0x09, dtype: 'int8', bytes: 1 },
  { code: 0x0b, dtype: 'int16', bytes: 2 },
  { code: 0x0c, dtype: 'int32', bytes: 4 },
  { code: 0x0d, dtype: 'float32', bytes: 4 },
  { code: 0x0e, dtype: 'float64', bytes: 8 },
];
const DTYPE_LIST = DTYPES.map((d) => `0x${hex(d.code, 2)} ${d.dtype}`).join(', ');

function hex(v: number, width: number): string {
  return v.toString(16).padStart(width, '0');
}

function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decodes the values after the header; multi-byte types are big-endian in IDX. */
function decodeValues(bytes: Uint8Array, offset: number, count: number, dtype: IdxDtype): ArrayLike<number> {
  if (dtype === 'uint8') return bytes.slice(offset, offset + count);
  if (dtype === 'int8') return new Int8Array(bytes.slice(offset, offset + count).buffer);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset);
  switch (dtype) {
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, false);
      return out;
    }
  }
}

/**
 * Parses the (already decompressed) bytes of an IDX file. `name` is used in error messages only.
 * Throws an Error naming the file and the problem if the magic number, header or length is wrong.
 */
export function parseIdx(input: Uint8Array, name: string): IdxFile {
  // A plain Uint8Array view: Node Buffers' slice() does not copy, and decodeValues relies on copies.
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  const where = `IDX file ${name}`;
  if (bytes.length < 4) {
    throw new Error(`${where}: only ${bytes.length} bytes long, too short for the 4-byte magic number`);
  }
  const magic = ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new Error(`${where}: bad magic number 0x${hex(magic, 8)}; an IDX file starts with two zero bytes`);
  }
  const type = DTYPES.find((d) => d.code === bytes[2]);
  if (type === undefined) {
    throw new Error(`${where}: bad magic number 0x${hex(magic, 8)}: unknown data type byte 0x${hex(bytes[2], 2)} (allowed: ${DTYPE_LIST})`);
  }
  const ndims = bytes[3];
  if (ndims === 0) throw new Error(`${where}: magic number 0x${hex(magic, 8)} declares 0 dimensions; at least 1 is needed`);
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new Error(`${where}: truncated header: ${ndims} dimensions need ${headerBytes} header bytes, the file has ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(view.getUint32(4 + 4 * i, false));
  // The product is computed in doubles; a damaged header can make it huge (even Infinity), which the
  // length comparison below rejects before anything is allocated.
  const count = dims.reduce((a, b) => a * b, 1);
  const expected = count * type.bytes;
  const found = bytes.length - headerBytes;
  if (found < expected) {
    throw new Error(
      `${where}: truncated: dims [${dims.join(', ')}] of ${type.dtype} need ${expected} data bytes, found ${found} (missing ${expected - found})`,
    );
  }
  if (found > expected) {
    throw new Error(
      `${where}: ${found - expected} trailing bytes after the ${expected} data bytes of dims [${dims.join(', ')}] of ${type.dtype}`,
    );
  }
  return { dims, dtype: type.dtype, data: decodeValues(bytes, headerBytes, count, type.dtype) };
}

/**
 * Reads an IDX file, inflating it first if it is gzip-compressed (recognised by its magic bytes
 * 1f 8b; a name ending in `.gz` must then be gzip). Validates the magic number, the dimensions and the
 * exact length (truncated files and trailing bytes are both rejected) and throws an Error naming the
 * file and what is wrong.
 *
 * @returns `dims`, the declared `dtype`, and `data` (Uint8Array, Int8Array, Int16Array, Int32Array,
 *   Float32Array or Float64Array matching the dtype) with `prod(dims)` values.
 */
export function readIdxFile(path: string): IdxFile {
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`readIdxFile: path must be a non-empty string, got ${describeValue(path)}`);
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Error(`IDX file ${path}: cannot be read (${(err as Error).message})`, { cause: err });
  }
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new Error(`IDX file ${path}: corrupt gzip data (${(err as Error).message})`, { cause: err });
    }
  } else if (path.endsWith('.gz')) {
    throw new Error(`IDX file ${path}: the name ends in .gz but the file does not start with the gzip magic bytes 1f 8b`);
  }
  return parseIdx(bytes, path);
}

/**
 * Writes `data` (uint8 values, row-major) as an IDX file with the given dimensions, gzip-compressed when
 * `opts.gzip` is true or, if `opts.gzip` is not given, when `path` ends in `.gz`.
 *
 * @param dims 1 to 255 dimensions, each an integer in [0, 2^32 - 1], whose product is `data.length`.
 */
export function writeIdxFile(path: string, dims: number[], data: Uint8Array, opts: { gzip?: boolean } = {}): void {
  const where = 'writeIdxFile';
  if (typeof path !== 'string' || path.length === 0)
    throw new TypeError(`${where}: path must be a non-empty string, got ${describeValue(path)}`);
  if (!Array.isArray(dims)) throw new TypeError(`${where}: dims must be an array of 1 to 255 dimensions, got ${describeValue(dims)}`);
  if (dims.length < 1 || dims.length > 255) {
    throw new RangeError(`${where}: dims must be an array of 1 to 255 dimensions, got ${JSON.stringify(dims)}`);
  }
  if (!dims.every((d) => Number.isInteger(d) && d >= 0 && d <= 0xffffffff)) {
    throw new RangeError(`${where}: dims must be integers in [0, 4294967295], got [${dims.join(', ')}]`);
  }
  if (!(data instanceof Uint8Array)) throw new TypeError(`${where}: data must be a Uint8Array, got ${describeValue(data)}`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== data.length) {
    throw new RangeError(`${where}: dims [${dims.join(', ')}] hold ${count} values but data has ${data.length}`);
  }
  const gzip = opts.gzip ?? path.endsWith('.gz');
  const bytes = new Uint8Array(4 + 4 * dims.length + data.length);
  const view = new DataView(bytes.buffer);
  bytes[2] = 0x08; // uint8
  bytes[3] = dims.length;
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(data, 4 + 4 * dims.length);
  writeFileSync(path, gzip ? gzipSync(bytes) : bytes);
}
