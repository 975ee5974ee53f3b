/**
 * The report page: one self-contained HTML file (styles and SVGs inline, nothing fetched) with the
 * plots, the summary table per group, every run's spec and environment, and the diverged runs.
 */
import type { RunRecord } from '../experiments/schema.js';
import type { PlannedPlot, SkippedPlot } from './charts.js';
import type { RecordGroup } from './records.js';
import type { MethodSummary, Stat } from '../experiments/summary.js';
import { OPTIMIZER_ORDER, optimizerColor, optimizerLabel } from './style.js';

/** A plot as placed on the page: rendered (SVG text plus the file names written) or skipped. */
export type PagePlot = (PlannedPlot & { svg: string; svgFile: string; pngFile: string }) | SkippedPlot;

/** Everything the page shows. */
export interface PageInput {
  resultsDir: string;
  generatedAt: string;
  /** `analysisHtml`: the group's Analysis section (analysisHtml.ts), placed after its plots. */
  groups: Array<{ group: RecordGroup; summary: MethodSummary[]; plots: PagePlot[]; analysisHtml?: string }>;
  /** Every record read, including unfinished ones. */
  records: RunRecord[];
}

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** A number with 3 significant digits (exponent form when very large or small). */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return Number(v.toPrecision(3)).toString();
}

function formatStat(s: Stat | null): string {
  if (!s || s.mean === null) return '—';
  return s.std === null ? formatNumber(s.mean) : `${formatNumber(s.mean)} ± ${formatNumber(s.std)}`;
}

const STYLE = `
body { font-family: system-ui, -apple-system, 'Segoe UI', 'DejaVu Sans', sans-serif; margin: 24px auto; max-width: 1300px; padding: 0 16px; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { margin-top: 1.5em; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 16px 0 28px; } figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: #444; font-size: 0.9em; max-width: 70em; margin-top: 4px; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.skipped { color: #8a5a00; background: #fff8e6; border-left: 3px solid #e0a800; padding: 6px 10px; }
.warning { color: #8a1f11; background: #fdecea; border-left: 3px solid #d93025; padding: 6px 10px; }
h4 { margin: 1.2em 0 0.3em; }
pre { font-size: 0.85em; background: #f8f8f8; padding: 6px; overflow-x: auto; margin: 4px 0; }
.muted { color: #666; }
`;

function optimizerCell(name: string): string {
  return `<span class="swatch" style="background:${optimizerColor(name)}"></span>${escapeHtml(optimizerLabel(name))}`;
}

function summaryTable(key: string, rows: MethodSummary[]): string {
  const head =
    '<tr><th>method</th><th>runs</th><th>diverged</th><th>unfinished</th><th>seeds</th><th>test accuracy</th><th>test loss</th><th>train loss</th>' +
    '<th>σ<sub>max</sub></th><th>Hessian trace</th><th>surrogate gap</th></tr>';
  const body = rows
    .map(
      (r) =>
        `<tr><td><span class="swatch" style="background:${optimizerColor(r.optimizer)}"></span>${escapeHtml(r.label)}</td>` +
        `<td class="num">${r.runs}</td><td class="num">${r.diverged}</td><td class="num">${r.incomplete}</td>` +
        `<td>${r.seeds.join(', ')}</td><td class="num">${formatStat(r.testAccuracy)}</td><td class="num">${formatStat(r.testLoss)}</td>` +
        `<td class="num">${formatStat(r.trainLoss)}</td><td class="num">${formatStat(r.sigmaMax)}</td>` +
        `<td class="num">${formatStat(r.trace)}</td><td class="num">${formatStat(r.surrogateGap)}</td></tr>`,
    )
    .join('\n');
  return `<table class="summary" id="summary-${escapeHtml(key)}">\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table>`;
}

function plotHtml(key: string, p: PagePlot): string {
  const id = `plot-${key}-${p.id}`;
  if ('skipped' in p) {
    return `<h3>${escapeHtml(p.title)}</h3>\n<p class="skipped plot-skipped" id="${escapeHtml(id)}" data-plot-id="${p.id}">Not drawn: ${escapeHtml(p.skipped)}.</p>`;
  }
  // The SVG comes from vega's renderer (not from user text), so it is inlined as is.
  return (
    `<h3>${escapeHtml(p.title)}</h3>\n<figure class="plot" id="${escapeHtml(id)}" data-plot-id="${p.id}">\n${p.svg}\n` +
    `<figcaption>${escapeHtml(p.caption)} Files: <code>${escapeHtml(p.svgFile)}</code>, <code>${escapeHtml(p.pngFile)}</code>.</figcaption>\n</figure>`
  );
}

function hyperparameters(r: RunRecord): string {
  const { name: _n, ...opt } = r.spec.optimizer;
  const { name: baseName, ...base } = r.spec.base;
  const kv = (o: Record<string, unknown>): string =>
    Object.entries(o)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(', ');
  return `${kv(opt) || '—'} · base ${baseName} ${kv(base)}`;
}

function runsTable(records: RunRecord[]): string {
  const head =
    '<tr><th>run</th><th>data / model</th><th>optimiser</th><th>settings</th><th>seed</th><th>status</th><th>epochs</th>' +
    '<th>final test acc.</th><th>final test loss</th><th>σ<sub>max</sub></th><th>backend</th><th>wall time</th><th>spec</th></tr>';
  // Runs by optimiser (display order), then seed, so each method's seeds sit together.
  const rank = (r: RunRecord): number => (OPTIMIZER_ORDER as readonly string[]).indexOf(r.spec.optimizer.name);
  const body = [...records]
    .sort((a, b) => rank(a) - rank(b) || a.spec.seed - b.spec.seed || a.runId.localeCompare(b.runId))
    .map((r) => {
      const d = r.spec.dataset;
      return (
        `<tr id="run-${escapeHtml(r.runId)}"><td><code>${escapeHtml(r.runId)}</code></td><td>${escapeHtml(d.name)}${d.n ? ` n=${d.n}` : ''} / ${r.spec.model}</td>` +
        `<td>${optimizerCell(r.spec.optimizer.name)}</td><td>${escapeHtml(hyperparameters(r))}; batch ${r.spec.batchSize}</td>` +
        `<td class="num">${r.spec.seed}</td><td>${r.status}</td><td class="num">${r.epochs.length}/${r.spec.epochs}</td>` +
        `<td class="num">${r.final ? formatNumber(r.final.testAccuracy) : '—'}</td><td class="num">${r.final ? formatNumber(r.final.testLoss) : '—'}</td>` +
        `<td class="num">${r.sharpness ? formatNumber(r.sharpness.sigmaMax) : '—'}</td>` +
        `<td>${escapeHtml(r.backend)}${r.threads !== null ? ` (${r.threads} threads)` : ''}</td><td class="num">${formatNumber(r.wallSeconds)} s</td>` +
        `<td><details><summary>JSON</summary><pre>${escapeHtml(JSON.stringify(r.spec, null, 2))}</pre></details></td></tr>`
      );
    })
    .join('\n');
  return `<table id="runs">\n<thead>${head}</thead>\n<tbody>\n${body}\n</tbody></table>`;
}

function environment(records: RunRecord[]): string {
  const backends = new Map<string, number>();
  const versions = new Map<string, Set<string>>();
  for (const r of records) {
    const b = `${r.backend}${r.threads !== null ? ` (${r.threads} threads)` : ''}`;
    backends.set(b, (backends.get(b) ?? 0) + 1);
    for (const [k, v] of Object.entries(r.versions)) {
      const set = versions.get(k) ?? new Set<string>();
      set.add(v);
      versions.set(k, set);
    }
  }
  const bList = [...backends].map(([b, n]) => `<li>${escapeHtml(b)}: ${n} run${n === 1 ? '' : 's'}</li>`).join('');
  const vRows = [...versions]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, set]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml([...set].join(', '))}</td></tr>`)
    .join('\n');
  return (
    `<h3>Backend</h3>\n<ul id="backends">${bList}</ul>\n<h3>Versions</h3>\n` +
    `<table id="versions"><thead><tr><th>component</th><th>version(s)</th></tr></thead><tbody>\n${vRows || '<tr><td colspan="2">none recorded</td></tr>'}\n</tbody></table>`
  );
}

function divergedList(records: RunRecord[]): string {
  const diverged = records.filter((r) => r.status === 'diverged');
  if (diverged.length === 0) return '<p id="diverged">No run diverged.</p>';
  const items = diverged
    .map((r) => {
      const d = r.divergence;
      const where = d ? `epoch ${d.epoch}, step ${d.step}: ${d.message}` : 'no details recorded';
      return `<li><code>${escapeHtml(r.runId)}</code> (${escapeHtml(optimizerLabel(r.spec.optimizer.name))}, seed ${r.spec.seed}) — ${escapeHtml(where)}</li>`;
    })
    .join('\n');
  return `<ul id="diverged">\n${items}\n</ul>`;
}

/** The whole page as an HTML string. */
export function buildReportHtml(input: PageInput): string {
  const unfinished = input.records.filter((r) => r.status === 'running');
  const sections = input.groups
    .map(({ group, summary, plots, analysisHtml }) => {
      const mixed = group.mixedSettings
        ? `<p class="warning">Runs of one optimiser in this group differ in settings other than the seed; they are pooled in the plots and the table. See the runs table below.</p>`
        : '';
      return (
        `<section class="group" id="group-${escapeHtml(group.key)}">\n<h2>${escapeHtml(group.title)}</h2>\n${mixed}\n` +
        `<h3>Summary</h3>\n<p class="muted">Final metrics of the complete runs: mean ± sample standard deviation over seeds (diverged runs counted, not averaged). ` +
        `Sharpness measured on the final model.</p>\n${summaryTable(group.key, summary)}\n${plots.map((p) => plotHtml(group.key, p)).join('\n')}\n${analysisHtml ?? ''}</section>`
      );
    })
    .join('\n');
  const unfinishedNote =
    unfinished.length > 0
      ? `<p class="warning" id="unfinished">${unfinished.length} run(s) did not finish and are left out of the plots and tables: ${unfinished
          .map((r) => `<code>${escapeHtml(r.runId)}</code>`)
          .join(', ')}.</p>`
      : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>flatminima report</title>
<style>${STYLE}</style>
</head>
<body>
<h1>flatminima report</h1>
<p class="muted">Results directory <code>${escapeHtml(input.resultsDir)}</code> · ${input.records.length} run(s) · generated ${escapeHtml(input.generatedAt)}</p>
${unfinishedNote}
${sections}
<section id="runs-section">
<h2>Runs</h2>
${runsTable(input.records)}
<h3>Diverged runs</h3>
${divergedList(input.records)}
</section>
<section id="environment">
<h2>Environment</h2>
${environment(input.records)}
</section>
</body>
</html>
`;
}
