/**
 * Crash-safe file replacement: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the directory. rename(2) is atomic on POSIX file systems, so a reader (or a
 * process restarted after a crash) sees either the old complete file or the new complete file.
 */
import { closeSync, existsSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Suffix of temporary files; a crash can leave one behind, and readers ignore it. */
export const TEMP_SUFFIX = '.tmp';

/** The temporary path {@link writeFileAtomic} writes `path` through (pid-tagged so two writers never share one). */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}${TEMP_SUFFIX}`);
}

/** Flushes a directory entry to disk so a completed rename survives a power loss. */
export function fsyncDir(dir: string): void {
  let fd: number | null = null;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename is still atomic there.
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/**
 * Writes `data` to `path` atomically (temp file, fsync, rename, directory fsync).
 * With `opts.backupPath`, an existing `path` is first renamed to `backupPath`, so the previous
 * complete version survives until the next write; a crash between the two renames leaves the
 * backup and the temp file, never a half-written `path`.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[], opts: { backupPath?: string } = {}): void {
  const tmp = tempPathFor(path);
  const parts: Uint8Array[] = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : [...data];
  const fd = openSync(tmp, 'w');
  try {
    for (const part of parts) {
      let off = 0;
      while (off < part.byteLength) off += writeSync(fd, part, off, part.byteLength - off);
    }
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  if (opts.backupPath !== undefined && existsSync(path)) renameSync(path, opts.backupPath);
  renameSync(tmp, path);
  fsyncDir(dirname(path));
}
