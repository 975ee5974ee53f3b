/**
 * The comparison tables of a summary ({@link summarize}'s rows) as text: a Markdown table for people,
 * CSV and JSON for other tools. Mean ± sample standard deviation over seeds.
 */
import type { MethodSummary, Stat } from '../experiments/summary.js';

/** `mean ± std` with `digits` decimals (times `scale`); just the mean when n = 1; '—' when n = 0. */
export function formatStat(s: Stat | null, digits: number, scale = 1): string {
  if (s === null || s.mean === null) return '—';
  const m = (s.mean * scale).toFixed(digits);
  return s.std === null ? m : `${m} ± ${(s.std * scale).toFixed(digits)}`;
}

function formatSci(s: Stat | null): string {
  if (s === null || s.mean === null) return '—';
  const f = (v: number): string => ((Math.abs(v) >= 1e-2 && Math.abs(v) < 1e4) || v === 0 ? v.toPrecision(3) : v.toExponential(2));
  return s.std === null ? f(s.mean) : `${f(s.mean)} ± ${f(s.std)}`;
}

/**
 * A Markdown table of the summary: runs (with diverged and unfinished counts), test accuracy in %,
 * test and train loss, and the sharpness columns when any row has them. Mean ± sample std over seeds.
 */
export function formatMarkdownTable(summary: readonly MethodSummary[]): string {
  const withSharpness = summary.some((s) => s.sigmaMax !== null || s.trace !== null || s.surrogateGap !== null);
  const header = ['Dataset', 'Model', 'Method', 'Runs', 'Diverged', 'Test acc. (%)', 'Test loss', 'Train loss'];
  if (withSharpness) header.push('σ_max', 'Hessian trace', 'Surrogate gap');
  const rows = summary.map((s) => {
    const notDone = [...(s.failed > 0 ? [`${s.failed} failed`] : []), ...(s.incomplete > 0 ? [`${s.incomplete} unfinished`] : [])];
    const runs = notDone.length > 0 ? `${s.runs} (${notDone.join(', ')})` : String(s.runs);
    const row = [
      s.dataset,
      s.model,
      s.label.replace(/\|/g, '\\|'),
      runs,
      String(s.diverged),
      formatStat(s.testAccuracy, 2, 100),
      formatStat(s.testLoss, 4),
      formatStat(s.trainLoss, 4),
    ];
    if (withSharpness) row.push(formatSci(s.sigmaMax), formatSci(s.trace), formatSci(s.surrogateGap));
    return row;
  });
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i < 3 ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n') + '\n';
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The summary as CSV: one row per method, raw numbers (accuracy as a fraction), empty cells for missing values. */
export function toCsv(summary: readonly MethodSummary[]): string {
  const statCols = ['test_accuracy', 'test_loss', 'train_loss', 'train_accuracy', 'sigma_max', 'hessian_trace', 'surrogate_gap'];
  const header = [
    'dataset',
    'model',
    'optimizer',
    'label',
    'runs',
    'complete',
    'diverged',
    'failed',
    'incomplete',
    'seeds',
    ...statCols.flatMap((c) => [`${c}_mean`, `${c}_std`, `${c}_n`]),
  ];
  const lines = [header.join(',')];
  for (const s of summary) {
    const stats = [s.testAccuracy, s.testLoss, s.trainLoss, s.trainAccuracy, s.sigmaMax, s.trace, s.surrogateGap];
    const cells: (string | number | null)[] = [
      s.dataset,
      s.model,
      s.optimizer,
      s.label,
      s.runs,
      s.complete,
      s.diverged,
      s.failed,
      s.incomplete,
      s.seeds.join(' '),
      ...stats.flatMap((st) => (st === null ? [null, null, 0] : [st.mean, st.std, st.n])),
    ];
    lines.push(cells.map(csvCell).join(','));
  }
  return lines.join('\n') + '\n';
}

/** The summary as pretty-printed JSON (the same objects {@link summarize} returns). */
export function toJson(summary: readonly MethodSummary[]): string {
  return JSON.stringify(summary, null, 2) + '\n';
}
