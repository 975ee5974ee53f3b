/**
 * `reproduce --full --protocol <file>`: a cut of the report's protocol that a user chooses and that
 * every output names. The file (JSON, or YAML by its extension) maps an experiment key to the fields
 * it changes; an experiment set to `false` is not run. The verdict then judges only the claims whose
 * experiments ran, and `reproduce.md` lists every field that differs from the report's settings.
 *
 * ```yaml
 * mnist:
 *   epochs: 1                  # the report: 25
 *   confirmationSeeds: 3
 *   grids:
 *     sam: { optimizer.rho: [0.05, 0.1] }
 * ```
 */
import { z } from 'zod';
import { OPTIMIZERS, type OptimizerName } from '../experiments/defaults.js';
import { readDataFile } from '../experiments/dataFile.js';
import { formatIssues, ValidationError } from '../experiments/validate.js';
import { FULL_PROTOCOLS, type FullProtocol } from './reproduceProtocol.js';

const seed = z.number().int().nonnegative();
const gridValues = z.array(z.number().nonnegative()).min(1);
const methodGrid = z.partialRecord(z.enum(['optimizer.rho', 'optimizer.alpha']), gridValues);

/** What one experiment's entry may change. */
const experimentOverride = z
  .object({
    /** Epochs of every run of both stages. */
    epochs: z.number().int().positive().optional(),
    /** Per method, its selection grid (replaces the protocol's grid of that method). */
    grids: z.partialRecord(z.enum(OPTIMIZERS), methodGrid).optional(),
    /** Seeds of every selection point. */
    selectionSeeds: z.array(seed).min(1).optional(),
    /** Seeds 0..n-1 of the confirmation stage. */
    confirmationSeeds: z.number().int().positive().optional(),
    /** Test examples the confirmed models' sharpness is measured on (0: none). */
    measureExamples: z.number().int().nonnegative().optional(),
  })
  .strict();

const overridesSchema = z
  .object(Object.fromEntries(FULL_PROTOCOLS.map((p) => [p.key, z.union([z.literal(false), experimentOverride]).optional()])))
  .strict();

/** A parsed protocol file: per experiment key, its changes, or false to leave it out. */
export type ProtocolOverrides = Partial<Record<FullProtocol['key'], z.infer<typeof experimentOverride> | false>>;

/**
 * Checks a parsed protocol file.
 * @throws ValidationError naming every bad path and what is allowed.
 */
export function parseProtocolOverrides(value: unknown, what: string): ProtocolOverrides {
  const r = overridesSchema.safeParse(value);
  if (!r.success) throw new ValidationError(what, formatIssues(r.error.issues));
  return r.data as ProtocolOverrides;
}

/** Reads and checks a protocol file (JSON, or YAML for `.yaml`/`.yml`). */
export function readProtocolOverrides(path: string): ProtocolOverrides {
  const what = `protocol file ${path}`;
  return parseProtocolOverrides(readDataFile(path, what), what);
}

/** The protocols that run, each with its overrides applied (those set to false are left out). */
export function applyProtocolOverrides(protocols: readonly FullProtocol[], overrides: ProtocolOverrides): FullProtocol[] {
  const out: FullProtocol[] = [];
  for (const p of protocols) {
    const o = overrides[p.key];
    if (o === false) continue;
    if (o === undefined) {
      out.push(p);
      continue;
    }
    const grids = { ...p.grids } as Record<OptimizerName, Readonly<Record<string, readonly number[]>>>;
    for (const [m, g] of Object.entries(o.grids ?? {})) grids[m as OptimizerName] = g as Record<string, number[]>;
    out.push({
      ...p,
      base: { ...p.base, ...(o.epochs !== undefined ? { epochs: o.epochs } : {}) },
      grids,
      selectionSeeds: o.selectionSeeds ?? p.selectionSeeds,
      confirmationSeeds: o.confirmationSeeds ?? p.confirmationSeeds,
      measureExamples: o.measureExamples ?? p.measureExamples,
    });
  }
  return out;
}

/** One line per field where a protocol differs from the report's (`FULL_PROTOCOLS`); none when it does not. */
export function describeProtocolCuts(protocols: readonly FullProtocol[]): string[] {
  const lines: string[] = [];
  for (const ref of FULL_PROTOCOLS) {
    const p = protocols.find((q) => q.key === ref.key);
    if (p === undefined) {
      lines.push(`${ref.key}: not run (its claims are not judged)`);
      continue;
    }
    const diffs: string[] = [];
    if (p.base.epochs !== ref.base.epochs) diffs.push(`${String(p.base.epochs)} epochs (report: ${String(ref.base.epochs)})`);
    if (JSON.stringify(p.grids) !== JSON.stringify(ref.grids)) diffs.push('a smaller selection grid');
    if (p.selectionSeeds.join() !== ref.selectionSeeds.join())
      diffs.push(`selection seeds ${p.selectionSeeds.join(',')} (protocol: ${ref.selectionSeeds.join(',')})`);
    if (p.confirmationSeeds !== ref.confirmationSeeds)
      diffs.push(`${p.confirmationSeeds} confirmation seeds (protocol: ${ref.confirmationSeeds})`);
    if (p.measureExamples !== ref.measureExamples)
      diffs.push(`sharpness on ${p.measureExamples} examples (protocol: ${ref.measureExamples})`);
    if (diffs.length > 0) lines.push(`${ref.key}: ${diffs.join('; ')}`);
  }
  return lines;
}
