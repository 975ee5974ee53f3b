/**
 * The per-point table a sweep prints when it ends: each point's settings, its runs, and the mean ±
 * sample std over seeds of the validation and test accuracy of its completed runs.
 */
import type { ExpandedSweep } from '../experiments/sweep/expand.js';
import type { RunRecord } from '../experiments/schema.js';
import { stat } from '../experiments/summary.js';
import { formatStat } from '../report/tables.js';

/** Markdown table, one row per point in sweep order. */
export function sweepPointTable(records: readonly RunRecord[], sweep: ExpandedSweep): string {
  const byRun = new Map(records.map((r) => [r.runId, r]));
  const points = new Map<string, { params: Record<string, unknown>; runs: RunRecord[] }>();
  for (const run of sweep.runs) {
    const p = points.get(run.pointId) ?? { params: run.params, runs: [] };
    const rec = byRun.get(run.runId);
    if (rec) p.runs.push(rec);
    points.set(run.pointId, p);
  }
  const header = ['Point', 'Runs', 'Complete', 'Diverged', 'Val. acc. (%)', 'Test acc. (%)'];
  const lines = [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`];
  for (const { params, runs } of points.values()) {
    const done = runs.filter((r) => r.status === 'complete' && r.final !== null);
    const val = done.map((r) => r.final?.validationAccuracy).filter((v): v is number => typeof v === 'number');
    const label =
      Object.entries(params)
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(', ') || '(base)';
    lines.push(
      `| ${[
        label,
        String(runs.length),
        String(done.length),
        String(runs.filter((r) => r.status === 'diverged').length),
        val.length > 0 ? formatStat(stat(val), 2, 100) : '—',
        formatStat(stat(done.map((r) => r.final!.testAccuracy)), 2, 100),
      ].join(' | ')} |`,
    );
  }
  return `${lines.join('\n')}\n(mean ± sample std over seeds of the final epoch)\n`;
}
