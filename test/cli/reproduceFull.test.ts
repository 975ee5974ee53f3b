import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readRecords } from '../../src/experiments/store.js';
import type { ClaimVerdict } from '../../src/analysis/verdict.js';
import { cli, removeTempDirs, tempDir } from './helpers.js';

after(removeTempDirs);

// The whole protocol, shrunk by the hidden test flags to a few tiny runs: one grid point per method,
// one selection seed, two confirmation seeds, one epoch.
const SHRINK = [
  '--epochs-override',
  '1',
  '--moons-n',
  '200',
  '--mnist-n',
  '120',
  '--measure-override',
  '0',
  '--grid-override',
  '1',
  '--selection-seeds-override',
  '1',
  '--seeds',
  '2',
  '--optimizers-override',
  'gsam,agsam',
  '--backend',
  'wasm',
  '--jobs',
  '2',
];

test('reproduce --full: selection on validation, confirmation of the selected points, verdict files; a re-run runs nothing', async () => {
  const dir = tempDir('reproduce-full');
  const r = await cli(['reproduce', '--full', '--results', dir, ...SHRINK], { timeoutMs: 600_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /TEST OVERRIDES ACTIVE/);
  for (const key of ['moons', 'mnist']) {
    const selection = readRecords(join(dir, key, 'selection'));
    const confirmation = readRecords(join(dir, key, 'confirmation'));
    assert.deepEqual(selection.map((x) => `${x.spec.optimizer.name}/${x.spec.seed}`).sort(), ['agsam/0', 'gsam/0']);
    assert.deepEqual(confirmation.map((x) => `${x.spec.optimizer.name}/${x.spec.seed}`).sort(), ['agsam/0', 'agsam/1', 'gsam/0', 'gsam/1']);
    for (const c of confirmation) {
      // The confirmed point is the selected one: the same optimizer settings and data, a validation split.
      const chosen = selection.find((s) => s.spec.optimizer.name === c.spec.optimizer.name)!;
      assert.deepEqual(c.spec.optimizer, chosen.spec.optimizer);
      assert.equal(c.spec.dataset.validationFraction, 0.1);
      assert.equal(c.status, 'complete');
    }
    for (const f of ['analysis.md', 'analysis.json', 'report.html']) {
      assert.ok(existsSync(join(dir, key, 'selection', f)), `${key}/selection/${f}`);
      assert.ok(existsSync(join(dir, key, 'confirmation', f)), `${key}/confirmation/${f}`);
    }
  }
  const verdict = JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8')) as ClaimVerdict[];
  assert.deepEqual(
    verdict.map((v) => v.id),
    ['moons-accuracy', 'moons-convergence', 'moons-sensitivity', 'mnist-accuracy', 'mnist-convergence', 'mnist-sensitivity'],
  );
  assert.ok(verdict.every((v) => ['supported', 'not supported', 'contradicted'].includes(v.verdict)));
  assert.match(verdict[0].report, /^89\.0 % vs 85\.7 %/);
  // One grid point per method: the sensitivity claim cannot be tested, and says why.
  assert.match(verdict[2].notes.join(), /needs two aligned grids of equal size \(got 1 and 1 points\)/);
  assert.equal(readFileSync(join(dir, 'verdict.csv'), 'utf8').trim().split('\n').length, 7);
  assert.match(readFileSync(join(dir, 'reproduce.md'), 'utf8'), /## Verdict on the report's claims/);
  assert.match(r.stdout, /\| Adaptive-GSAM reaches a higher test accuracy than GSAM on moons \|/);

  const again = await cli(['reproduce', '--full', '--results', dir, ...SHRINK], { timeoutMs: 300_000 });
  assert.equal(again.code, 0, again.stderr);
  assert.equal((again.stderr.match(/: started/g) ?? []).length, 0);
  assert.equal(readdirSync(join(dir, 'moons', 'confirmation')).filter((d) => /-seed\d-/.test(d)).length, 4);
});

test('reproduce: the --full-only test flags are refused without --full', async () => {
  const r = await cli(['reproduce', '--grid-override', '1']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--grid-override and --selection-seeds-override apply to --full only/);
});
