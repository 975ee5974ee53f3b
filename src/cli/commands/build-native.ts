/**
 * `flatminima build-native`: (re)builds the optional native oneDNN kernels (native/build.mjs, the
 * same script the package's install step runs) with the compiler's full output, then says whether
 * they load.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { EXIT_FAILURE } from '../errors.js';

/** native/build.mjs, from this module in src/cli/commands (tsx) or dist/src/cli/commands (built). */
function buildScript(): string {
  const candidates = ['../../../native/build.mjs', '../../../../native/build.mjs'].map((p) => fileURLToPath(new URL(p, import.meta.url)));
  const found = candidates.find((p) => existsSync(p));
  if (found == null)
    throw new Error(`native/build.mjs not found (looked at ${candidates.join(', ')}); this installation has no native sources`);
  return found;
}

function run(script: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script], { stdio: 'inherit' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal != null ? EXIT_FAILURE : 0)));
  });
}

/** Registers `build-native` on the program. */
export function registerBuildNative(program: Command): void {
  program
    .command('build-native')
    .description('build the optional native oneDNN kernels (needs libdnnl-dev and g++), showing the full compiler output')
    .action(async () => {
      const code = await run(buildScript());
      if (code !== 0) {
        process.exitCode = EXIT_FAILURE;
        return;
      }
      // This process has not loaded the addon, so this loads the build just made.
      const { findNativeAddon, describeNative } = await import('../../backend/native.js');
      const status = findNativeAddon();
      process.stdout.write(`${describeNative(status, null)}\n`);
      if (!status.available) process.exitCode = EXIT_FAILURE;
    });
}
