/**
 * How optimisers look in every plot and table: display name, order and colour. Kept in one place so
 * that SAM is the same blue in the curves, the bars and the landscapes.
 */
import type { OptimizerSpec } from '../experiments/schema.js';

/** Spec-level optimiser name (`spec.optimizer.name`). */
export type OptimizerName = OptimizerSpec['name'];

/** Display order: plain baseline first, then the methods in the order the report introduces them. */
export const OPTIMIZER_ORDER: readonly OptimizerName[] = ['sgd', 'sam', 'asam', 'gsam', 'agsam'];

const DISPLAY_NAMES: Record<OptimizerName, string> = {
  sgd: 'SGD',
  sam: 'SAM',
  asam: 'ASAM',
  gsam: 'GSAM',
  agsam: 'Adaptive-GSAM',
};

// Tableau-10 hues, chosen to stay distinguishable for the common colour-vision deficiencies;
// SGD gets grey because it is the baseline the others are compared against.
const COLOURS: Record<OptimizerName, string> = {
  sgd: '#7f7f7f',
  sam: '#4e79a7',
  asam: '#59a14f',
  gsam: '#e15759',
  agsam: '#b07aa1',
};

function checkName(name: string): OptimizerName {
  if (!(OPTIMIZER_ORDER as readonly string[]).includes(name)) {
    throw new Error(`optimizer name must be one of ${OPTIMIZER_ORDER.join(', ')}, got ${JSON.stringify(name)}`);
  }
  return name as OptimizerName;
}

/** The human name of an optimiser: 'agsam' -> 'Adaptive-GSAM'. */
export function optimizerLabel(name: string): string {
  return DISPLAY_NAMES[checkName(name)];
}

/** The fixed colour of an optimiser (hex). */
export function optimizerColor(name: string): string {
  return COLOURS[checkName(name)];
}

/** Sorts optimiser names into display order, dropping duplicates. */
export function sortOptimizers(names: Iterable<string>): OptimizerName[] {
  const present = new Set(Array.from(names, checkName));
  return OPTIMIZER_ORDER.filter((n) => present.has(n));
}

/**
 * A Vega-Lite colour scale over the display names of the given optimisers, in display order, with
 * each optimiser's fixed colour: the same optimiser keeps its colour whatever else is plotted.
 */
export function optimizerColorScale(names: Iterable<string>): { domain: string[]; range: string[] } {
  const sorted = sortOptimizers(names);
  return { domain: sorted.map(optimizerLabel), range: sorted.map(optimizerColor) };
}
