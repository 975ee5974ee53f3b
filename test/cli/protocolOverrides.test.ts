import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyProtocolOverrides,
  describeProtocolCuts,
  parseProtocolOverrides,
  readProtocolOverrides,
} from '../../src/cli/protocolOverrides.js';
import { FULL_PROTOCOLS } from '../../src/cli/reproduceProtocol.js';
import { ValidationError } from '../../src/experiments/validate.js';

test('a protocol file cuts only the fields it names, and every cut is described', () => {
  const o = parseProtocolOverrides({ mnist: { epochs: 1, confirmationSeeds: 3, grids: { sam: { 'optimizer.rho': [0.05, 0.1] } } } }, 'p');
  const [moons, mnist] = applyProtocolOverrides(FULL_PROTOCOLS, o);
  assert.deepEqual(moons, FULL_PROTOCOLS[0]);
  assert.equal(mnist?.base.epochs, 1);
  assert.equal(mnist?.confirmationSeeds, 3);
  assert.deepEqual(mnist?.grids.sam, { 'optimizer.rho': [0.05, 0.1] });
  assert.deepEqual(mnist?.grids.gsam, FULL_PROTOCOLS[1]?.grids.gsam);
  assert.deepEqual(mnist?.selectionSeeds, FULL_PROTOCOLS[1]?.selectionSeeds);
  assert.deepEqual(describeProtocolCuts([moons!, mnist!]), [
    'mnist: 1 epochs (report: 25); a smaller selection grid; 3 confirmation seeds (protocol: 5)',
  ]);
  assert.deepEqual(describeProtocolCuts(FULL_PROTOCOLS), []);
});

test('an experiment set to false is not run and the cut says its claims are not judged', () => {
  const ps = applyProtocolOverrides(FULL_PROTOCOLS, parseProtocolOverrides({ moons: false }, 'p'));
  assert.deepEqual(
    ps.map((p) => p.key),
    ['mnist'],
  );
  assert.deepEqual(describeProtocolCuts(ps), ['moons: not run (its claims are not judged)']);
});

test('a bad protocol file is refused with one line per problem naming its path', () => {
  assert.throws(
    () =>
      parseProtocolOverrides(
        { mnist: { epochs: 0, grids: { sam: { 'optimizer.beta': [1] }, gsam: { 'optimizer.rho': [] } } }, cifar: {} },
        'protocol file x.json',
      ),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      const m = err.message;
      assert.match(m, /protocol file x\.json/);
      assert.match(m, /mnist\.epochs/);
      assert.match(m, /optimizer\.beta/);
      assert.match(m, /mnist\.grids\.gsam/);
      assert.match(m, /cifar/);
      return true;
    },
  );
});

test('a protocol file is read as YAML or JSON; an unreadable or unparsable one is named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'protocol-'));
  try {
    const yaml = join(dir, 'cut.yaml');
    writeFileSync(yaml, 'mnist:\n  epochs: 2\nmoons: false\n');
    assert.deepEqual(readProtocolOverrides(yaml), { mnist: { epochs: 2 }, moons: false });
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "mnist": ');
    assert.throws(() => readProtocolOverrides(bad), /protocol file .*bad\.json[\s\S]*not valid JSON/);
    assert.throws(
      () => readProtocolOverrides(join(dir, 'absent.yaml')),
      /protocol file .*absent\.yaml[\s\S]*cannot read the file \(ENOENT\)/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
