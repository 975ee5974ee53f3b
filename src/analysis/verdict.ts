/**
 * The verdict on the report's claims about Adaptive-GSAM against GSAM, from the analyses of a
 * selection sweep and of a confirmation stage per experiment:
 * - accuracy (moons, MNIST): test accuracy of the two selected points over the same seeds, paired
 *   t-test, the mean difference with its CI;
 * - faster convergence: epochs to the convergence target per seed, paired, Wilcoxon signed-rank (epoch
 *   counts tie often); a run that never reaches the target counts as `epochs + 1`, which can only
 *   understate how much slower it was;
 * - less sensitive to hyper-parameters: the two selection grids are aligned point for point (same
 *   number of rho values at the same ratios, same alpha values), each point's regret is its method's
 *   best mean validation accuracy minus its own, and the paired regrets are compared by Wilcoxon.
 * The p-values of all claims are Holm-corrected together, and each claim gets one word: supported (the
 * effect goes the claimed way and p_Holm < 0.05), contradicted (it goes the other way with p_Holm <
 * 0.05), or not supported (no significant effect).
 */
import type { AnalysisGroup } from './analyze.js';
import { csvCell } from './format.js';
import type { PointSummary } from './points.js';
import { estimateMean, holm, pairedTTest, wilcoxonSignedRank, type Interval } from './stats.js';

/** One word per claim. */
export type VerdictWord = 'supported' | 'not supported' | 'contradicted';

/** The verdict on one claim. */
export interface ClaimVerdict {
  /** `<experiment>-<kind>`, e.g. `moons-accuracy`. */
  id: string;
  experiment: string;
  kind: 'accuracy' | 'convergence' | 'sensitivity';
  /** The claim in words. */
  claim: string;
  /** What the report says (its figure, or its words where it gives none). */
  report: string;
  /** Our estimate of the effect `a - b`, in the claim's unit, with its 95 % CI (null when it cannot be computed). */
  effect: { mean: number; ci: Interval | null; unit: string } | null;
  /** The two methods' own figures, e.g. `Adaptive-GSAM 91.02 %, GSAM 90.92 %`. */
  figures: string;
  /** The test and its size, e.g. `paired t-test, n = 10 seeds`. */
  test: string;
  p: number | null;
  pHolm: number | null;
  verdict: VerdictWord;
  notes: string[];
}

/** The analyses of one experiment. */
export interface ExperimentAnalyses {
  /** Short name, e.g. 'moons'. */
  experiment: string;
  /** The selection sweep's group (sensitivity), or null when none was run. */
  selection: AnalysisGroup | null;
  /** The confirmation stage's group (accuracy, convergence). */
  confirmation: AnalysisGroup;
  /** The report's test accuracies (fractions) of the two methods, when it gives them. */
  reportAccuracy?: { a: number; b: number };
}

/** Options of {@link judgeClaims}. */
export interface VerdictOptions {
  /** The method the claims are about (default 'agsam') and the one it is compared with (default 'gsam'). */
  a?: string;
  b?: string;
  /** Significance level after Holm's correction (default 0.05). */
  alpha?: number;
  /** Display names. */
  names?: Readonly<Record<string, string>>;
}

interface ClaimDraft {
  id: string;
  experiment: string;
  kind: ClaimVerdict['kind'];
  claim: string;
  report: string;
  effect: ClaimVerdict['effect'];
  figures: string;
  test: string;
  p: number | null;
  /** Sign the claim predicts for the effect: -1 (a below b) or +1. */
  claimedSign: -1 | 1;
  notes: string[];
}

const pct = (v: number): string => `${(v * 100).toFixed(2)} %`;

function selectedPoint(group: AnalysisGroup, method: string): PointSummary | null {
  const sel = group.selection.find((s) => s.method === method)?.point;
  if (!sel) return null;
  return group.methods.find((m) => m.method === method)?.points.find((p) => p.id === sel.id) ?? null;
}

/** Values of a metric of two points on the seeds both have, in seed order. */
function paired(a: PointSummary, b: PointSummary, metric: 'testAccuracy'): { seeds: number[]; x: number[]; y: number[] } {
  const byB = new Map(b.values[metric].map((v) => [v.seed, v.value]));
  const common = a.values[metric].filter((v) => byB.has(v.seed));
  return { seeds: common.map((v) => v.seed), x: common.map((v) => v.value), y: common.map((v) => byB.get(v.seed) as number) };
}

function accuracyClaim(e: ExperimentAnalyses, a: string, b: string, name: (m: string) => string): ClaimDraft {
  const base = {
    id: `${e.experiment}-accuracy`,
    experiment: e.experiment,
    kind: 'accuracy' as const,
    claim: `${name(a)} reaches a higher test accuracy than ${name(b)} on ${e.experiment}`,
    report: e.reportAccuracy
      ? `${(e.reportAccuracy.a * 100).toFixed(1)} % vs ${(e.reportAccuracy.b * 100).toFixed(1)} % (${((e.reportAccuracy.a - e.reportAccuracy.b) * 100).toFixed(1)} points, single runs)`
      : '—',
    claimedSign: 1 as const,
  };
  const pa = selectedPoint(e.confirmation, a);
  const pb = selectedPoint(e.confirmation, b);
  if (!pa || !pb)
    return { ...base, effect: null, figures: '—', test: '—', p: null, notes: [`no selected point for ${!pa ? name(a) : name(b)}`] };
  const { seeds, x, y } = paired(pa, pb, 'testAccuracy');
  const figures = `${name(a)} ${pct(estimateMean(x).mean ?? NaN)}, ${name(b)} ${pct(estimateMean(y).mean ?? NaN)}`;
  const notes: string[] = [];
  try {
    const t = pairedTTest(x, y);
    const effect = { mean: t.meanDifference * 100, ci: { lower: t.ci.lower * 100, upper: t.ci.upper * 100 }, unit: 'points' };
    if (e.reportAccuracy) {
      const gap = (e.reportAccuracy.a - e.reportAccuracy.b) * 100;
      notes.push(
        `the report's gap of ${gap.toFixed(1)} points is ${gap >= effect.ci.lower && gap <= effect.ci.upper ? 'inside' : 'outside'} our 95 % CI`,
      );
    }
    return { ...base, effect, figures, test: `paired t-test, n = ${t.n} seeds (${seeds.join(',')})`, p: t.p, notes };
  } catch (err) {
    return { ...base, effect: null, figures, test: `paired t-test, n = ${x.length}`, p: null, notes: [(err as Error).message] };
  }
}

function convergenceClaim(e: ExperimentAnalyses, a: string, b: string, name: (m: string) => string): ClaimDraft {
  const conv = e.confirmation.convergence;
  const base = {
    id: `${e.experiment}-convergence`,
    experiment: e.experiment,
    kind: 'convergence' as const,
    claim: `${name(a)} reaches the convergence target in fewer epochs than ${name(b)} on ${e.experiment}`,
    report: '"faster convergence" (no figure)',
    claimedSign: -1 as const,
  };
  const ma = conv.methods.find((m) => m.method === a);
  const mb = conv.methods.find((m) => m.method === b);
  if (conv.target === null || !ma || !mb)
    return { ...base, effect: null, figures: '—', test: '—', p: null, notes: [conv.reason ?? 'no convergence data'] };
  const epochsOf = (p: PointSummary | null): number => p?.spec.epochs ?? NaN;
  const censor = (m: typeof ma, limit: number): Map<number, number> => new Map(m.perRun.map((r) => [r.seed, r.epoch ?? limit + 1]));
  const limitA = epochsOf(selectedPoint(e.confirmation, a));
  const limitB = epochsOf(selectedPoint(e.confirmation, b));
  const ea = censor(ma, limitA);
  const eb = censor(mb, limitB);
  const seeds = [...ea.keys()].filter((s) => eb.has(s)).sort((p, q) => p - q);
  const x = seeds.map((s) => ea.get(s) as number);
  const y = seeds.map((s) => eb.get(s) as number);
  const notes = [
    `target ${pct(conv.target)} validation accuracy (${(conv.fraction * 100).toFixed(0)} % of ${name(conv.reference?.method ?? '?')}'s final mean)`,
  ];
  if (ma.notReached + mb.notReached > 0)
    notes.push(`never reached (counted as epochs + 1): ${name(a)} ${ma.notReached}, ${name(b)} ${mb.notReached}`);
  const d = x.map((v, i) => v - y[i]);
  const est = estimateMean(d);
  const figures = `${name(a)} ${(estimateMean(x).mean ?? NaN).toFixed(1)} epochs, ${name(b)} ${(estimateMean(y).mean ?? NaN).toFixed(1)} epochs`;
  const effect = est.mean === null ? null : { mean: est.mean, ci: est.ci, unit: 'epochs' };
  try {
    const w = wilcoxonSignedRank(x, y);
    return { ...base, effect, figures, test: `Wilcoxon signed-rank (${w.method}), n = ${w.n} seeds`, p: w.p, notes };
  } catch (err) {
    return { ...base, effect, figures, test: `Wilcoxon signed-rank, n = ${x.length}`, p: null, notes: [...notes, (err as Error).message] };
  }
}

/** A method's grid points sorted by rho, then alpha (the order in which two aligned grids pair up). */
function gridOrder(points: readonly PointSummary[]): PointSummary[] {
  const num = (p: PointSummary, k: string): number => (typeof p.params[k] === 'number' ? (p.params[k] as number) : NaN);
  return [...points].sort(
    (p, q) => num(p, 'optimizer.rho') - num(q, 'optimizer.rho') || num(p, 'optimizer.alpha') - num(q, 'optimizer.alpha'),
  );
}

function sensitivityClaim(e: ExperimentAnalyses, a: string, b: string, name: (m: string) => string): ClaimDraft {
  const base = {
    id: `${e.experiment}-sensitivity`,
    experiment: e.experiment,
    kind: 'sensitivity' as const,
    claim: `${name(a)} loses less validation accuracy than ${name(b)} away from its best hyper-parameters on ${e.experiment}`,
    report: '"significantly less sensitive to hyperparameter selection" (no figure)',
    claimedSign: -1 as const,
  };
  const group = e.selection;
  const pa = group?.methods.find((m) => m.method === a)?.points ?? [];
  const pb = group?.methods.find((m) => m.method === b)?.points ?? [];
  if (pa.length < 2 || pb.length < 2 || pa.length !== pb.length) {
    return {
      ...base,
      effect: null,
      figures: '—',
      test: '—',
      p: null,
      notes: [`needs two aligned grids of equal size (got ${pa.length} and ${pb.length} points)`],
    };
  }
  const ga = gridOrder(pa);
  const gb = gridOrder(pb);
  const notes: string[] = [];
  const alphas = (g: PointSummary[]): string => g.map((p) => String(p.params['optimizer.alpha'] ?? '-')).join(',');
  const ratios = ga.map((p, i) => Number(p.params['optimizer.rho']) / Number(gb[i].params['optimizer.rho']));
  if (alphas(ga) !== alphas(gb)) notes.push('the grids have different alpha values: pairs are by position');
  if (ratios.some((r) => Math.abs(r / ratios[0] - 1) > 1e-9)) notes.push('the rho grids are not at the same ratios: pairs are by position');
  else notes.push(`points paired by position: rho of ${name(a)} = ${ratios[0]} x rho of ${name(b)}, same alpha`);
  const meanOf = (p: PointSummary): number | null => p.metrics.validationAccuracy.mean;
  const best = (g: PointSummary[]): number => Math.max(...g.map(meanOf).filter((v): v is number => v !== null));
  const bestA = best(ga);
  const bestB = best(gb);
  const x: number[] = [];
  const y: number[] = [];
  ga.forEach((p, i) => {
    const ma = meanOf(p);
    const mb = meanOf(gb[i]);
    if (ma === null || mb === null) notes.push(`pair ${i + 1} left out: a point has no complete run`);
    else {
      x.push((bestA - ma) * 100);
      y.push((bestB - mb) * 100);
    }
  });
  const d = x.map((v, i) => v - y[i]);
  const est = estimateMean(d);
  const median = (v: number[]): number => {
    const s = [...v].sort((p, q) => p - q);
    return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  };
  const figures = `mean regret ${name(a)} ${(estimateMean(x).mean ?? NaN).toFixed(2)} points (median ${median(x).toFixed(2)}), ${name(b)} ${(estimateMean(y).mean ?? NaN).toFixed(2)} (median ${median(y).toFixed(2)}), over ${x.length} grid points`;
  const effect = est.mean === null ? null : { mean: est.mean, ci: est.ci, unit: 'points of regret' };
  try {
    const w = wilcoxonSignedRank(x, y);
    return {
      ...base,
      effect,
      figures,
      test: `Wilcoxon signed-rank (${w.method}) on paired regrets, n = ${w.n} grid points`,
      p: w.p,
      notes,
    };
  } catch (err) {
    return { ...base, effect, figures, test: `Wilcoxon signed-rank, n = ${x.length}`, p: null, notes: [...notes, (err as Error).message] };
  }
}

/**
 * Judges the claims on each experiment's analyses (accuracy and convergence from the confirmation
 * stage, sensitivity from the selection sweep), with Holm's correction over every p-value.
 */
export function judgeClaims(experiments: readonly ExperimentAnalyses[], opts: VerdictOptions = {}): ClaimVerdict[] {
  const a = opts.a ?? 'agsam';
  const b = opts.b ?? 'gsam';
  const level = opts.alpha ?? 0.05;
  if (!(level > 0 && level < 1)) throw new RangeError(`judgeClaims: alpha must be a number strictly between 0 and 1, got ${level}`);
  const name = (m: string): string => opts.names?.[m] ?? m;
  const partial = experiments.flatMap((e) => [
    accuracyClaim(e, a, b, name),
    convergenceClaim(e, a, b, name),
    ...(e.selection !== null ? [sensitivityClaim(e, a, b, name)] : []),
  ]);
  const adjusted = holm(partial.map((c) => c.p));
  return partial.map(({ claimedSign, ...c }, i) => {
    const pHolm = adjusted[i];
    const sign = c.effect === null ? 0 : Math.sign(c.effect.mean);
    const significant = pHolm !== null && pHolm < level;
    const verdict: VerdictWord =
      significant && sign === claimedSign ? 'supported' : significant && sign === -claimedSign ? 'contradicted' : 'not supported';
    return { ...c, pHolm, verdict };
  });
}

const fmtP = (p: number | null): string => (p === null ? '—' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));
const fmtEffect = (e: ClaimVerdict['effect']): string =>
  e === null
    ? '—'
    : `${e.mean >= 0 ? '+' : ''}${e.mean.toFixed(2)} ${e.unit}${e.ci ? ` [${e.ci.lower.toFixed(2)}, ${e.ci.upper.toFixed(2)}]` : ''}`;

/** The verdict as a Markdown table plus one line of notes per claim. */
export function formatVerdictTable(rows: readonly ClaimVerdict[]): string {
  const lines = [
    '| Claim | The report | Ours: effect [95 % CI] | Ours: figures | Test | p | p (Holm) | Verdict |',
    '| --- | --- | ---: | --- | --- | ---: | ---: | --- |',
    ...rows.map(
      (r) => `| ${[r.claim, r.report, fmtEffect(r.effect), r.figures, r.test, fmtP(r.p), fmtP(r.pHolm), `**${r.verdict}**`].join(' | ')} |`,
    ),
  ];
  const notes = rows.filter((r) => r.notes.length > 0).map((r) => `- ${r.id}: ${r.notes.join('; ')}`);
  return `${lines.join('\n')}\n${notes.length > 0 ? `\n${notes.join('\n')}\n` : ''}`;
}

/** Columns of {@link verdictToCsv}. */
export const VERDICT_CSV_COLUMNS = [
  'id',
  'experiment',
  'kind',
  'claim',
  'report',
  'effect',
  'ciLower',
  'ciUpper',
  'unit',
  'figures',
  'test',
  'p',
  'pHolm',
  'verdict',
  'notes',
] as const;

/** The verdict as CSV, one row per claim. */
export function verdictToCsv(rows: readonly ClaimVerdict[]): string {
  const lines = rows.map((r) =>
    [
      r.id,
      r.experiment,
      r.kind,
      r.claim,
      r.report,
      r.effect?.mean ?? null,
      r.effect?.ci?.lower ?? null,
      r.effect?.ci?.upper ?? null,
      r.effect?.unit ?? null,
      r.figures,
      r.test,
      r.p,
      r.pHolm,
      r.verdict,
      r.notes.join('; '),
    ]
      .map(csvCell)
      .join(','),
  );
  return [VERDICT_CSV_COLUMNS.join(','), ...lines].join('\n') + '\n';
}
