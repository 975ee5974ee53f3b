/**
 * This package's version, read at run time from the package.json above this file (the same code
 * runs from src/ under tsx and from dist/src/ after a build, at different depths). Node-only: it
 * reads the file system, so nothing reachable from the browser entry (src/index.ts) may import it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** How many folders above this file to look for the package.json (src/util/ and dist/src/util/ need 2 and 3). */
const MAX_LEVELS = 6;

let cached: string | null = null;

/** The version of the nearest package.json named flatminima above this module, or 'unknown' when there is none. */
export function packageVersion(): string {
  if (cached !== null) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < MAX_LEVELS; i++) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'flatminima' && typeof pkg.version === 'string') return (cached = pkg.version);
    }
    dir = dirname(dir);
  }
  return (cached = 'unknown');
}
