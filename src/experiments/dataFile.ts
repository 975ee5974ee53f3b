/**
 * Reading a JSON or YAML file a user wrote (a sweep file, a protocol file): the text parsed by
 * `JSON.parse`, or by the `yaml` package for the `.yaml`/`.yml` extension, before any schema sees it.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from './validate.js';

/**
 * The parsed contents of a JSON or YAML file.
 * @param what - how errors name the file (e.g. `sweep file x.yaml`).
 * @throws ValidationError, one line saying why, for a file that cannot be read or parsed.
 */
export function readDataFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ValidationError(what, [`cannot read the file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`]);
  }
  const yaml = ['.yaml', '.yml'].includes(extname(path).toLowerCase());
  try {
    return yaml ? parseYaml(text) : JSON.parse(text);
  } catch (err) {
    throw new ValidationError(what, [`not valid ${yaml ? 'YAML' : 'JSON'} (${(err as Error).message.split('\n')[0]})`]);
  }
}
