/**
 * analyzeRecords end to end on a constructed sweep, and its writers: the object is plain JSON (a
 * round trip changes nothing), the Markdown has every table with one row per method/comparison, the
 * CSV is rectangular and carries the same numbers, writeAnalysis writes the three files; options
 * are validated; and the analysis layer imports nothing from the report or the CLI.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  analysisToCsv,
  analysisToJson,
  analyzeRecords,
  CSV_COLUMNS,
  formatAnalysisMarkdown,
  writeAnalysis,
} from '../../src/analysis/index.js';
import { sweepRecords } from './fixtures.js';

const tmp = mkdtempSync(join(tmpdir(), 'flatminima-analysis-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Splits one CSV line (quoted cells may hold commas). */
function csvLine(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cur);
      cur = '';
    } else cur += ch;
  }
  cells.push(cur);
  return cells;
}

describe('analyzeRecords', () => {
  const analysis = analyzeRecords(sweepRecords());
  const g = analysis.groups[0];

  test('one group with every part filled', () => {
    assert.equal(analysis.groups.length, 1);
    assert.equal(g.key, 'moons-mlp');
    assert.ok(g.isSweep);
    assert.deepEqual(g.runs, { total: 48, complete: 47, diverged: 1, failed: 0, unfinished: 0 });
    assert.deepEqual(
      g.methods.map((m) => [m.method, m.points.length]),
      [
        ['sgd', 1],
        ['sam', 3],
        ['gsam', 6],
        ['agsam', 6],
      ],
    );
    assert.deepEqual(
      g.selection.map((s) => s.point!.params['optimizer.rho'] ?? null),
      [null, 0.05, 0.05, 0.05],
    );
    assert.equal(g.comparisons.comparisons.length, 6, 'every pair of the four methods');
    assert.deepEqual(
      g.sensitivity.map((s) => s.method),
      ['sam', 'gsam', 'agsam'],
    );
    assert.equal(g.convergence.reference!.method, 'agsam');
    assert.deepEqual(analysis.options.sensitivityMetrics, ['validationAccuracy', 'testAccuracy']);
  });

  test('the analysis is plain JSON: a round trip changes nothing', () => {
    assert.deepEqual(JSON.parse(analysisToJson(analysis)), analysis);
  });

  test('the Markdown has each table with a row per method or comparison', () => {
    const md = formatAnalysisMarkdown(analysis);
    for (const h of [
      '## moons (MLP)',
      '### Selected points',
      '### Paired comparisons (test accuracy)',
      '### Sensitivity',
      '### Convergence to',
      '### Points',
    ]) {
      assert.ok(md.includes(h), h);
    }
    assert.match(md, /\| Adaptive-GSAM \| rho=0\.05, alpha=0\.1 \| 6\/6 \| 0 1 2 \| \d+\.\d\d \[\d+\.\d\d, \d+\.\d\d\] \| \d+\.\d\d \[/);
    assert.match(md, /\| GSAM \| rho=0\.05, alpha=0\.1 \| 5\/6 \(1 left out: diverged\) \|/);
    assert.match(md, /\| Adaptive-GSAM − GSAM \| 3 \| 0 1 2 \| [+-]\d+\.\d\d \[/);
    assert.match(md, /\| GSAM \| validation accuracy \| optimizer\.rho, optimizer\.alpha \| 6 \| 5 \| 1 \|/);
    assert.match(md, /\| GSAM \| rho=0\.2, alpha=0\.3 \| 2\/3 \| 1 \(seeds 2\) \|/);
  });

  test('the CSV is rectangular and carries the analysis numbers', () => {
    const lines = analysisToCsv(analysis).trim().split('\n');
    assert.deepEqual(lines[0].split(','), [...CSV_COLUMNS]);
    const rows = lines.slice(1).map(csvLine);
    for (const r of rows) assert.equal(r.length, CSV_COLUMNS.length, r.join('|'));
    const col = (name: (typeof CSV_COLUMNS)[number]): number => CSV_COLUMNS.indexOf(name);
    const t = rows.filter((r) => r[col('section')] === 'comparison-t');
    assert.equal(t.length, 6);
    const ag = t.find((r) => r[col('method')] === 'agsam' && r[col('versus')] === 'gsam')!;
    const cmp = g.comparisons.comparisons.find((c) => c.a === 'agsam' && c.b === 'gsam')!;
    assert.equal(Number(ag[col('p_value')]), cmp.tTest!.p);
    assert.equal(Number(ag[col('p_holm')]), cmp.tTestHolm);
    const sel = rows.filter((r) => r[col('section')] === 'selection' && r[col('metric')] === 'testAccuracy');
    assert.deepEqual(
      sel.map((r) => r[col('method')]),
      ['sgd', 'sam', 'gsam', 'agsam'],
    );
    assert.equal(Number(sel[3][col('mean')]), g.selection[3].testAccuracy!.mean);
    assert.equal(rows.filter((r) => r[col('section')] === 'point' && r[col('metric')] === 'testAccuracy').length, 16, 'one per point');
  });

  test('writeAnalysis writes the three files', () => {
    const files = writeAnalysis(join(tmp, 'out'), analysis);
    assert.equal(readFileSync(files.markdown, 'utf8'), formatAnalysisMarkdown(analysis));
    assert.equal(readFileSync(files.csv, 'utf8'), analysisToCsv(analysis));
    assert.deepEqual(JSON.parse(readFileSync(files.json, 'utf8')), analysis);
  });

  test('options are validated, each with a message naming it', () => {
    const recs = sweepRecords();
    assert.throws(() => analyzeRecords(recs, { within: -0.1 }), /within must be a finite number >= 0/);
    assert.throws(() => analyzeRecords(recs, { level: 95 }), /level must be a number strictly between 0 and 1, got 95/);
    assert.throws(() => analyzeRecords(recs, { bootstrap: { resamples: 5 } }), /bootstrap.resamples must be an integer >= 100/);
    assert.throws(() => analyzeRecords(recs, { selectBy: 'testAccuracy' }), RangeError);
    assert.throws(() => analyzeRecords(recs, { rho: 1 } as never), /options must only have selectBy/);
    assert.throws(() => analyzeRecords('x' as never), TypeError);
  });

  test('the same records give the same analysis (the bootstrap is seeded)', () => {
    assert.deepEqual(analyzeRecords(sweepRecords()), analysis);
    const other = analyzeRecords(sweepRecords(), { bootstrap: { seed: 9 } });
    assert.notDeepEqual(other.groups[0].sensitivity[0].metrics[0].summary.rangeCi, g.sensitivity[0].metrics[0].summary.rangeCi);
  });
});

test('src/analysis imports nothing from src/report or src/cli', () => {
  const seen = new Set<string>();
  const offenders: string[] = [];
  const visit = (url: URL): void => {
    if (seen.has(url.href)) return;
    seen.add(url.href);
    for (const [, spec] of readFileSync(url, 'utf8').matchAll(/(?:import|export)[^'"]*from\s+'([^']+)'/g)) {
      if (!spec.startsWith('.')) continue;
      const next = new URL(spec.replace(/\.js$/, '.ts'), url);
      if (/\/src\/(report|cli)\//.test(next.pathname)) offenders.push(`${url.pathname} -> ${spec}`);
      else visit(next);
    }
  };
  visit(new URL('../../src/analysis/index.ts', import.meta.url));
  assert.ok(seen.size >= 8, `walked ${seen.size} modules`);
  assert.deepEqual(offenders, []);
});
