/**
 * Builds the playground into a static site: the page, its script and styles bundled by esbuild
 * (flatminima resolved to this repository's source through tsconfig paths, as a user's bundler
 * resolves the installed package), and the tfjs wasm binaries copied next to it, so the site makes
 * no request outside itself and runs from any static web host.
 *
 *   node --import tsx playground/build.ts [outDir]    (default playground/dist)
 */
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
/** Where `npm run build:playground` writes the site. */
export const DEFAULT_OUT_DIR = join(here, 'dist');
/** The tfjs wasm binaries the page may ask for (plain, SIMD, threaded SIMD). */
const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'];

/** Builds the site into `outDir` (emptied first) and returns the files' sizes in bytes. */
export async function buildPlayground(outDir: string = DEFAULT_OUT_DIR, opts: { minify?: boolean } = {}): Promise<Record<string, number>> {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(join(outDir, 'wasm'), { recursive: true });
  const result = await esbuild.build({
    entryPoints: { app: join(here, 'src', 'main.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: opts.minify ?? true,
    sourcemap: true,
    tsconfig: join(here, 'tsconfig.json'),
    metafile: true,
    logLevel: 'warning',
    // tfjs' Node-only branches (node-fetch, util, crypto, fs, ...) are mapped out by its "browser" fields.
  });
  copyFileSync(join(here, 'index.html'), join(outDir, 'index.html'));
  copyFileSync(join(here, 'style.css'), join(outDir, 'style.css'));
  const wasmDir = dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  for (const name of WASM_BINARIES) copyFileSync(join(wasmDir, 'dist', name), join(outDir, 'wasm', name));
  const sizes: Record<string, number> = {};
  for (const [file, info] of Object.entries(result.metafile.outputs)) sizes[file] = info.bytes;
  return sizes;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = resolve(process.argv[2] ?? DEFAULT_OUT_DIR);
  const sizes = await buildPlayground(outDir);
  const js = Object.entries(sizes).find(([f]) => f.endsWith('app.js'));
  console.log(`playground built into ${outDir}${js ? ` (app.js ${(js[1] / 1e6).toFixed(2)} MB)` : ''}`);
}
