/**
 * Reading a sweep file from disk: JSON, or YAML (by the `.yaml`/`.yml` extension), then expanded and
 * validated as a whole.
 */
import { readDataFile } from '../dataFile.js';
import { expandSweep, type ExpandedSweep } from './expand.js';

/**
 * Reads, parses and expands a sweep file.
 * @throws ValidationError for a file that cannot be read or parsed (one line saying why) or whose
 *   contents are invalid (one line per problem).
 */
export function readSweepFile(path: string): ExpandedSweep {
  const what = `sweep file ${path}`;
  return expandSweep(readDataFile(path, what), what);
}
