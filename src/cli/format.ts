/**
 * Plain-text renderings the commands print: a one-line description of a spec and the summary of a
 * finished run.
 */
import { join } from 'node:path';
import type { RunRecord, RunSpec } from '../experiments/schema.js';
import { METHOD_NAMES } from '../experiments/summary.js';

/** One line: dataset, model, optimiser with its settings, base optimiser, budget, seed. */
export function describeSpec(spec: RunSpec): string {
  const { name: optName, ...optSettings } = spec.optimizer;
  const settings = Object.entries(optSettings)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const { name: dsName, ...dsSettings } = spec.dataset;
  const ds = Object.entries(dsSettings)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
  const { name: baseName, ...baseSettings } = spec.base;
  const base = Object.entries(baseSettings)
    .map(([k, v]) => `${k === 'learningRate' ? 'lr' : k}=${String(v)}`)
    .join(' ');
  return [
    `${dsName}${ds ? ` (${ds})` : ''}, ${spec.model}`,
    `${METHOD_NAMES[optName] ?? optName}${settings ? ` (${settings})` : ''} on ${baseName} (${base})`,
    `${spec.epochs} epochs, batch ${spec.batchSize}, seed ${spec.seed}`,
  ].join('; ');
}

const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;
const num = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : String(v));

/** The summary `train` prints after a run: final metrics, time, backend, files written. */
export function formatRecordSummary(record: RunRecord, resultsDir: string): string {
  const lines: string[] = [];
  const dir = join(resultsDir, record.runId);
  lines.push(`run ${record.runId}: ${record.status}`);
  if (record.divergence) {
    const d = record.divergence;
    lines.push(`  diverged at epoch ${d.epoch}, step ${d.step}: ${d.message}`);
    lines.push(`  the last good checkpoint is kept in ${dir}`);
  }
  if (record.final) {
    const f = record.final;
    lines.push(`  final (epoch ${record.epochs.length}/${record.spec.epochs}):`);
    lines.push(`    test accuracy  ${pct(f.testAccuracy)}   test loss  ${num(f.testLoss)}`);
    lines.push(`    train accuracy ${pct(f.trainAccuracy)}   train loss ${num(f.trainLoss)} (clean loss at w)`);
    const last = record.epochs[record.epochs.length - 1];
    if (last && last.perturbedLoss !== null && last.surrogateGap !== null) {
      lines.push(`    last epoch: mean perturbed loss ${num(last.perturbedLoss)}, mean surrogate gap ${num(last.surrogateGap)}`);
    }
  } else {
    lines.push('  no epoch finished');
  }
  if (record.sharpness) {
    const s = record.sharpness;
    lines.push(
      `  sharpness on ${s.examples} examples: sigma_max ${s.sigmaMax.toPrecision(4)} (${s.sigmaMaxIterations} iterations, ${s.hessianMethod}), ` +
        `trace ${s.trace.toPrecision(4)}, surrogate gap ${s.surrogateGap.toPrecision(4)} at rho ${s.rho} (2h/rho^2 = ${s.lemma3SigmaMax.toPrecision(4)})`,
    );
  }
  const threads = record.threads === null ? '' : `, ${record.threads} thread${record.threads === 1 ? '' : 's'}`;
  lines.push(`  ${record.wallSeconds.toFixed(1)} s on backend ${record.backend}${threads}`);
  lines.push(`  record ${join(dir, 'record.json')}`);
  if (record.modelDir !== null) lines.push(`  model  ${join(dir, record.modelDir)}`);
  return lines.join('\n') + '\n';
}
