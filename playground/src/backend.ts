/**
 * Picks the tfjs backend for the page: wasm with flatminima's training kernels where the wasm
 * module loads (served from ./wasm/, bundled with the page), else webgl, else cpu, and says why.
 */
import * as tf from '@tensorflow/tfjs';
import { initWasmTrainingBackend } from 'flatminima/wasm-kernels';
import type { BackendPreference } from './settings.js';

/** What the page runs on, in words for the status line. */
export interface BackendChoice {
  name: string;
  detail: string;
}

/** Folder of the tfjs wasm binaries, relative to the page (build.ts copies them there). */
export const WASM_FOLDER = './wasm/';

function reason(e: unknown): string {
  return e instanceof Error ? e.message.split('\n')[0]! : String(e);
}

async function tryBackend(name: 'webgl' | 'cpu'): Promise<void> {
  const ok = await tf.setBackend(name);
  if (!ok || tf.getBackend() !== name) throw new Error(`tf.setBackend('${name}') failed`);
  await tf.ready();
}

/**
 * Activates the backend `preference` asks for ('auto': wasm, webgl, cpu, the first that starts).
 * A named backend that fails falls back the same way, and the detail says so.
 */
export async function chooseBackend(preference: BackendPreference): Promise<BackendChoice> {
  const order: ('wasm' | 'webgl' | 'cpu')[] =
    preference === 'auto' ? ['wasm', 'webgl', 'cpu'] : [preference, ...(['wasm', 'webgl', 'cpu'] as const).filter((b) => b !== preference)];
  const failed: string[] = [];
  for (const name of order) {
    try {
      if (name === 'wasm') {
        const info = await initWasmTrainingBackend({ wasmPaths: WASM_FOLDER });
        const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) ? 'SIMD' : 'no SIMD';
        failed.push(`wasm with flatminima's ${info.trainingKernels.length} training kernels, ${simd}, 1 thread`);
      } else {
        await tryBackend(name);
        failed.push(name === 'webgl' ? 'webgl (stock tfjs kernels)' : 'cpu (stock tfjs kernels)');
      }
      const detail = failed.length > 1 ? `${failed.at(-1)}; ${failed.slice(0, -1).join('; ')}` : failed[0]!;
      return { name, detail };
    } catch (e) {
      failed.push(`${name} failed: ${reason(e)}`);
    }
  }
  throw new Error(`no tfjs backend started: ${failed.join('; ')}`);
}
