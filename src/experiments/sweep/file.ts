/**
 * Reading a sweep file from disk: JSON, or YAML (by the `.yaml`/`.yml` extension), parsed by the
 * `yaml` package and then expanded and validated as a whole.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../validate.js';
import { expandSweep, type ExpandedSweep } from './expand.js';

/**
 * Reads, parses and expands a sweep file.
 * @throws ValidationError for a file that cannot be read or parsed (one line saying why) or whose
 *   contents are invalid (one line per problem).
 */
export function readSweepFile(path: string): ExpandedSweep {
  const what = `sweep file ${path}`;
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(what, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  let value: unknown;
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ValidationError(what, [`not valid ${yaml ? 'YAML' : 'JSON'} (${(err as Error).message.split('\n')[0]})`]);
  }
  return expandSweep(value, what);
}
