/**
 * Starting a module of this package as a child process, both when built (`.js`) and when run from the
 * sources under tsx (`.ts`): the run pool's worker and the queue worker's job runner use it.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/**
 * The path of module `name` (without extension) relative to `base` (an `import.meta.url`): the `.js`
 * file when built, the `.ts` file under tsx.
 * @throws Error naming both candidates when neither exists.
 */
export function childModulePath(name: string, base: string): string {
  const js = fileURLToPath(new URL(`${name}.js`, base));
  if (existsSync(js)) return js;
  const ts = fileURLToPath(new URL(`${name}.ts`, base));
  if (existsSync(ts)) return ts;
  throw new Error(`child process module not found next to ${fileURLToPath(base)} (looked for ${name}.js and ${name}.ts)`);
}

/** Node flags for a child running `modulePath`: the parent's, minus the test runner's and debugger's, plus tsx for a .ts module. */
export function childExecArgv(modulePath: string): string[] {
  const args = process.execArgv.filter((a) => !/^--(test|inspect|watch|experimental-test)/.test(a));
  if (modulePath.endsWith('.ts') && !args.some((a) => a.includes('tsx'))) args.push('--import', import.meta.resolve('tsx'));
  return args;
}
