/**
 * The playground in a real browser (Debian's Chromium through playwright-core): it loads cleanly
 * and self-contained on wasm with flatminima's kernels, training lowers the loss and moves the
 * boundary, race mode trains both models from the same start, a link reproduces its settings and
 * its run, and bad input is refused with a visible message while the run goes on. The picker
 * offers every method of the package's table, with the fields of the one chosen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { WASM_TRAINING_KERNEL_NAMES } from '../../src/backend/kernels/register.js';
import { METHODS } from 'flatminima';
import { fromHash } from '../../playground/src/settings.js';
import { Session } from '../../playground/src/trainer.js';
import { canvasPixels, chromiumAvailable, openPage, openSite, playUntil, state, type Site } from './helpers.js';

const runs = chromiumAvailable();

describe('the playground in Chromium', { skip: !runs && 'needs /usr/bin/chromium' }, () => {
  let site: Site;
  before(async () => {
    site = await openSite();
    await tf.setBackend('cpu');
  });
  after(async () => site?.close());

  test('loads without console errors or outside requests, on wasm with our training kernels, and matches Node', async () => {
    const { page, consoleErrors, externalRequests } = await openPage(site);
    try {
      const s = await state(page);
      assert.equal(s.backend, 'wasm');
      assert.equal(
        (s as unknown as { trainingKernels: boolean }).trainingKernels,
        true,
        "flatminima's kernels are the registered wasm kernels",
      );
      assert.match(
        (await page.textContent('#backend')) ?? '',
        new RegExp(`wasm with flatminima's ${WASM_TRAINING_KERNEL_NAMES.length} training kernels`),
      );
      assert.equal(await page.isVisible('#messages'), false, 'no message on a clean load');
      assert.equal(s.step, 0);
      // The same session in Node on the cpu backend gives the same numbers at step 0 (wasm vs cpu
      // arithmetic: equal to float32 rounding).
      const node = new Session(fromHash(s.hash).settings);
      try {
        const mine = node.history[0]![0]!;
        const theirs = s.history[0]![0]!;
        assert.ok(Math.abs(mine.trainLoss - theirs.trainLoss) < 1e-5, `train loss ${mine.trainLoss} vs ${theirs.trainLoss}`);
        assert.ok(Math.abs(mine.testAccuracy - theirs.testAccuracy) < 1e-6);
        assert.ok(
          Math.abs(node.measurements[0]![0]!.sigmaMax - s.measurements[0]![0]!.sigmaMax) < 1e-3 * Math.abs(s.measurements[0]![0]!.sigmaMax),
        );
      } finally {
        node.dispose();
      }
      await playUntil(page, 20);
      assert.deepEqual(consoleErrors, []);
      assert.deepEqual(externalRequests, []);
    } finally {
      await page.close();
    }
  });

  test('playing a few hundred steps lowers the training loss and moves the boundary, leaking nothing', async () => {
    const { page, consoleErrors } = await openPage(site);
    try {
      const boundaryBefore = await canvasPixels(page, '#boundary-a');
      const s = await playUntil(page, 300);
      const h = s.history[0]!;
      assert.ok(h.at(-1)!.trainLoss < 0.7 * h[0]!.trainLoss, `train loss ${h[0]!.trainLoss} -> ${h.at(-1)!.trainLoss}`);
      assert.ok(s.measurements[0]!.length >= 4, 'sigma_max measured every 100 steps');
      assert.notEqual(await canvasPixels(page, '#boundary-a'), boundaryBefore, 'the boundary canvas changed');
      assert.match((await page.textContent('#step-count')) ?? '', new RegExp(`^${s.step}$`));
      // Ten more steps, one Step press each: the live tensor count stays where it was.
      for (let i = 0; i < 10; i++) await page.click('#step');
      const later = await state(page);
      assert.equal(later.step, s.step + 10);
      assert.equal(later.numTensors, s.numTensors, 'no tensor leaks while stepping and drawing');
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('race mode trains both optimisers from the same weights on shared axes', async () => {
    const { page, consoleErrors } = await openPage(site, '#race=1&opt=sgd&b.opt=sam');
    try {
      const before = [await canvasPixels(page, '#boundary-a'), await canvasPixels(page, '#boundary-b')];
      assert.equal(before[0], before[1], 'same initial weights draw the same boundary');
      const s = await playUntil(page, 200);
      const [sgd, sam] = s.history;
      assert.deepEqual(sgd![0], sam![0], 'identical at step 0');
      for (const h of [sgd!, sam!]) assert.ok(h.at(-1)!.trainLoss < h[0]!.trainLoss);
      assert.equal(sgd!.at(-1)!.step, sam!.at(-1)!.step, 'lock-step');
      assert.notEqual(sgd!.at(-1)!.trainLoss, sam!.at(-1)!.trainLoss, 'different optimisers, different runs');
      assert.equal(sgd!.at(-1)!.perturbedLoss, null);
      assert.notEqual(sam!.at(-1)!.perturbedLoss, null);
      const after = [await canvasPixels(page, '#boundary-a'), await canvasPixels(page, '#boundary-b')];
      assert.notEqual(after[0], before[0]);
      assert.notEqual(after[1], before[1]);
      assert.notEqual(after[0], after[1]);
      // Every chart holds both optimisers' series.
      const legends = await page.$$eval('[data-chart="loss"] .u-legend .u-label', (els) => els.map((e) => e.textContent));
      assert.deepEqual(legends, ['A: SGD train', 'A: SGD test', 'B: SAM train', 'B: SAM test']);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('a link reproduces its settings and, step for step, its run', async () => {
    const hash =
      'seed=3&data=spiral&n=300&noise=0.05&test=0.2&width=12&depth=2&batch=20&every=50&race=0&backend=cpu&opt=gsam&base=adam&lr=0.01&rho=0.1&alpha=0.3&interval=2';
    const one = await openPage(site, `#${hash}`);
    const two = await openPage(site, `#${hash}`);
    try {
      const s = await state(one.page);
      assert.equal(s.hash, hash);
      assert.equal(s.backend, 'cpu');
      assert.equal(new URL(one.page.url()).hash, `#${hash}`);
      assert.equal(await one.page.inputValue('#field-data'), 'spiral');
      assert.equal(await one.page.inputValue('#field-opt'), 'gsam');
      assert.equal(await one.page.inputValue('#field-rho'), '0.1');
      assert.equal(await one.page.inputValue('#field-alpha'), '0.3');
      assert.equal(await one.page.inputValue('#field-interval'), '2');
      assert.equal(await one.page.inputValue('#field-width'), '12');
      for (const p of [one.page, two.page]) for (let i = 0; i < 15; i++) await p.click('#step');
      const [a, b] = [await state(one.page), await state(two.page)];
      assert.equal(a.step, 15);
      assert.deepEqual(b.history, a.history, 'two loads of one link: the same run');
      // And the same run as the page's code gives in Node on the same (cpu) backend.
      const node = new Session(fromHash(hash).settings);
      try {
        for (let i = 0; i < 15; i++) node.advance();
        assert.deepEqual(JSON.parse(JSON.stringify(node.history)), a.history);
      } finally {
        node.dispose();
      }
      assert.deepEqual([...one.consoleErrors, ...two.consoleErrors], []);
    } finally {
      await one.page.close();
      await two.page.close();
    }
  });

  test('bad values are refused with a visible message and the run goes on', async () => {
    const { page, consoleErrors } = await openPage(site);
    try {
      for (let i = 0; i < 5; i++) await page.click('#step');
      const before = await state(page);
      await page.fill('#field-rho', '-0.1');
      await page.press('#field-rho', 'Enter');
      assert.match(
        (await page.textContent('#error-rho')) ?? '',
        /rho must be a number >= 0 and <= 10, got '-0\.1'; the run goes on with rho = 0\.05/,
      );
      assert.equal(await page.isVisible('#messages'), true);
      assert.match((await page.textContent('#messages')) ?? '', /rho must be/);
      assert.equal(await page.getAttribute('#field-rho', 'aria-invalid'), 'true');
      await page.fill('#field-lr', 'abc');
      await page.press('#field-lr', 'Enter');
      assert.match((await page.textContent('#error-lr')) ?? '', /learning rate must be a number > 0 and <= 10, got 'abc'/);
      const during = await state(page);
      assert.equal(during.step, before.step, 'the run was not reset');
      assert.deepEqual(during.history, before.history);
      assert.deepEqual(during.settings, before.settings);
      assert.equal(new URL(page.url()).hash, `#${before.hash}`, 'the link is unchanged');
      await page.click('#step');
      assert.equal((await state(page)).step, before.step + 1, 'training goes on from where it was');
      // A good value is taken: the messages go and the run restarts with it.
      await page.fill('#field-rho', '0.1');
      await page.press('#field-rho', 'Enter');
      const after = await state(page);
      assert.equal(after.step, 0);
      assert.equal(after.settings.a.rho, 0.1);
      assert.equal(await page.isVisible('#messages'), false);
      assert.match(new URL(page.url()).hash, /&rho=0\.1(&|$)/);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('where the wasm binaries cannot load, the page falls back and says why', async () => {
    const page = await site.browser.newPage();
    try {
      await page.route('**/*.wasm', (route) => route.abort());
      await page.goto(site.url);
      await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 120_000 });
      const s = await state(page);
      assert.ok(s.backend === 'webgl' || s.backend === 'cpu', `fell back to ${s.backend}`);
      assert.match(
        (await page.textContent('#backend')) ?? '',
        new RegExp(`^Backend: ${s.backend} \\(stock tfjs kernels\\); wasm failed: `),
      );
      await page.click('#step');
      assert.equal((await state(page)).step, 1, 'and it trains there');
    } finally {
      await page.close();
    }
  });

  test('a link with a bad value says why it was not followed', async () => {
    const { page, consoleErrors } = await openPage(site, '#rho=-5&data=circles');
    try {
      assert.match((await page.textContent('#messages')) ?? '', /rho must be a number >= 0 and <= 10, got '-5'; the default is used/);
      const s = await state(page);
      assert.equal(s.settings.a.rho, 0.05);
      assert.equal(s.settings.data, 'circles');
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test("the picker offers the table's methods; LookSAM shows its fields, trains, and refuses k = 0 while the run goes on", async () => {
    const { page, consoleErrors } = await openPage(site);
    try {
      const options = await page.$$eval('#field-opt option', (els) => els.map((e) => [(e as HTMLOptionElement).value, e.textContent]));
      assert.deepEqual(
        options,
        METHODS.map((r) => [r.name, r.label]),
      );
      assert.equal(await page.$('#field-k'), null, 'SAM has no k');
      await page.selectOption('#field-opt', 'looksam');
      assert.equal(await page.inputValue('#field-k'), '5');
      assert.equal(await page.inputValue('#field-looksamAlpha'), '0.7');
      assert.equal(await page.$('#field-alpha'), null, "GSAM's alpha is not LookSAM's");
      assert.match(
        (await page.getAttribute('label:has(#field-k)', 'title')) ?? '',
        /^LookSAM: climb on every k-th step.*; an integer from 1 to 1000$/,
      );
      const hash = new URL(page.url()).hash;
      assert.match(hash, /[#&]opt=looksam(&|$)/);
      assert.match(hash, /&k=5(&|$)/);
      assert.match(hash, /&looksamAlpha=0\.7(&|$)/);
      const s = await playUntil(page, 300);
      assert.equal(s.settings.a.opt, 'looksam');
      const h = s.history[0]!;
      assert.ok(h.at(-1)!.trainLoss < 0.7 * h[0]!.trainLoss, `LookSAM: train loss ${h[0]!.trainLoss} -> ${h.at(-1)!.trainLoss}`);
      assert.notEqual(h.at(-1)!.perturbedLoss, null, 'LookSAM records L(w + e)');
      await page.fill('#field-k', '0');
      await page.press('#field-k', 'Enter');
      assert.match(
        (await page.textContent('#error-k')) ?? '',
        /^k must be an integer from 1 to 1000, got '0'; the run goes on with k = 5$/,
      );
      assert.equal(await page.isVisible('#messages'), true);
      assert.equal(await page.getAttribute('#field-k', 'aria-invalid'), 'true');
      const during = await state(page);
      assert.equal(during.step, s.step, 'the run was not reset');
      assert.deepEqual(during.history, s.history);
      assert.equal(new URL(page.url()).hash, hash, 'the link is unchanged');
      await page.click('#step');
      assert.equal((await state(page)).step, s.step + 1, 'training goes on from where it was');
      // A good k is taken, and the link says it.
      await page.fill('#field-k', '3');
      await page.press('#field-k', 'Enter');
      const after = await state(page);
      assert.equal(after.step, 0);
      assert.equal(after.settings.a.k, 3);
      assert.match(new URL(page.url()).hash, /&k=3(&|$)/);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('ESAM (one loss per example, on wasm) and MomentumSAM race and both train', async () => {
    const { page, consoleErrors } = await openPage(site, '#race=1&opt=esam&b.opt=msam');
    try {
      const s = await playUntil(page, 200);
      assert.equal(s.tfBackend, 'wasm');
      assert.deepEqual([s.settings.a.esamGamma, s.settings.b.opt], [0.5, 'msam']);
      for (const h of s.history)
        assert.ok(h.at(-1)!.trainLoss < 0.8 * h[0]!.trainLoss, `train loss ${h[0]!.trainLoss} -> ${h.at(-1)!.trainLoss}`);
      assert.notEqual(s.history[0]!.at(-1)!.perturbedLoss, null, 'ESAM records L(w + e)');
      assert.equal(s.history[1]!.at(-1)!.perturbedLoss, null, "MomentumSAM's one pass has no gap to show");
      const legends = await page.$$eval('[data-chart="loss"] .u-legend .u-label', (els) => els.map((e) => e.textContent));
      assert.deepEqual(legends, ['A: ESAM train', 'A: ESAM test', 'B: MomentumSAM train', 'B: MomentumSAM test']);
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });

  test('MomentumSAM refuses base adam with a visible message naming the base, and a link with it says what was used', async () => {
    const { page, consoleErrors } = await openPage(site, '#opt=msam&base=adam');
    try {
      assert.match(
        (await page.textContent('#messages')) ?? '',
        /base optimiser: MomentumSAM climbs along the base's momentum, so it must be "momentum", got "adam"; base optimiser momentum is used/,
      );
      assert.equal(await page.inputValue('#field-base'), 'momentum');
      for (let i = 0; i < 5; i++) await page.click('#step');
      const before = await state(page);
      assert.equal(before.settings.a.opt, 'msam');
      await page.selectOption('#field-base', 'adam');
      assert.match(
        (await page.textContent('#error-base')) ?? '',
        /^base optimiser: MomentumSAM .* must be "momentum", got "adam"; the run goes on with base optimiser = momentum$/,
      );
      const during = await state(page);
      assert.equal(during.step, 5, 'the run was not reset');
      assert.deepEqual(during.settings, before.settings);
      await page.click('#step');
      assert.equal((await state(page)).step, 6, 'training goes on');
      assert.deepEqual(consoleErrors, []);
    } finally {
      await page.close();
    }
  });
});
