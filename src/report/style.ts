/**
 * How optimisers look in every plot and table: display name, order and colour, read from the method
 * table (src/optimizers/methods.ts), so that SAM is the same blue in the curves, the bars and the
 * landscapes, and a new method needs nothing here.
 */
import type { OptimizerSpec } from '../experiments/schema.js';
import { METHODS, METHOD_IDS } from '../optimizers/index.js';

/** Spec-level optimiser name (`spec.optimizer.name`). */
export type OptimizerName = OptimizerSpec['name'];

/** Display order: the method table's (plain baseline first, the report's methods, then the cheaper variants). */
export const OPTIMIZER_ORDER: readonly OptimizerName[] = METHOD_IDS;

// Display names and colours come from the method table. Its colours are Tableau-10 hues, chosen to
// stay distinguishable for the common colour-vision deficiencies; SGD is grey, the baseline.
const DISPLAY_NAMES = Object.fromEntries(METHODS.map((m) => [m.name, m.label])) as Record<OptimizerName, string>;
const COLOURS = Object.fromEntries(METHODS.map((m) => [m.name, m.colour])) as Record<OptimizerName, string>;

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
