/**
 * Speed of the playground in headless Chromium (a benchmark, not a test): SAM steps per second on
 * the report's moons MLP (2-32-32-32-2, 400 points, batch 32, wasm backend) while the page redraws
 * its views, and how often the views were redrawn. Targets (issue 15): >= 100 steps/s with >= 10
 * view updates per second. After 300 untimed steps (JIT warm-up), `--rounds` rounds of `--seconds`
 * seconds each are timed by the page's own step and redraw counters; the median is reported. On a
 * shared machine wall-clock rates fall with the load, so each round also gives the steps per second
 * of CPU time used by Chromium's renderer processes (from /proc), which the load changes far less.
 *
 *   npm run bench:playground -- [--seconds 5] [--rounds 3] [--hash 'every=100']
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { buildPlayground } from '../playground/build.js';
import { servePlayground } from '../playground/serve.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, hash: { type: 'string', default: '' } },
});
const seconds = Number(values.seconds);
const rounds = Number(values.rounds);
if (!(seconds > 0) || !Number.isFinite(seconds))
  throw new RangeError(`bench:playground: --seconds must be a number > 0, got '${values.seconds}'`);
if (!Number.isInteger(rounds) || rounds < 1)
  throw new RangeError(`bench:playground: --rounds must be a positive integer, got '${values.rounds}'`);

interface Counters {
  step: number;
  renders: number;
  backend: string;
  hash: string;
}

const loadAverage = (): string => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Clock ticks per second of /proc/<pid>/stat's utime and stime (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) used so far by the Chromium renderer processes descending from `rootPid`. */
function rendererCpuSeconds(rootPid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number; renderer: boolean }>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the ")" closing the command name: state ppid ... utime(14) stime(15).
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const renderer = readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer');
      stats.set(pid, { ppid: Number(f[1]), ticks: Number(f[11]) + Number(f[12]), renderer });
    } catch {
      // the process ended while we looked
    }
  }
  const descends = (pid: number): boolean => {
    for (let p = pid, hops = 0; p > 1 && hops < 20; p = stats.get(p)?.ppid ?? 0, hops++) if (p === rootPid) return true;
    return false;
  };
  let ticks = 0;
  for (const [pid, s] of stats) if (s.renderer && descends(pid)) ticks += s.ticks;
  return ticks / TICKS_PER_SECOND;
}

const dir = mkdtempSync(join(tmpdir(), 'flatminima-bench-'));
await buildPlayground(dir);
const { server, url } = await servePlayground(dir, 0);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`${url}#opt=sam&${values.hash}`);
  await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: 120_000 });
  const counters = (): Promise<Counters> =>
    page.evaluate(() => (window as unknown as { flatminimaPlayground: { state(): Counters } }).flatminimaPlayground.state());
  await page.click('#play');
  await page.waitForFunction(
    () => (window as unknown as { flatminimaPlayground: { state(): Counters } }).flatminimaPlayground.state().step >= 300,
    null,
    {
      timeout: 600_000,
    },
  );
  const rootPid = process.pid; // Chromium runs as this process's descendant
  const stepsPerSecond: number[] = [];
  const stepsPerCpuSecond: number[] = [];
  const rendersPerSecond: number[] = [];
  const loads: string[] = [];
  for (let r = 0; r < rounds; r++) {
    const a = await counters();
    const cpu0 = rendererCpuSeconds(rootPid);
    const t0 = performance.now();
    await page.waitForTimeout(seconds * 1000);
    const b = await counters();
    const dt = (performance.now() - t0) / 1000;
    const cpu = rendererCpuSeconds(rootPid) - cpu0;
    stepsPerSecond.push((b.step - a.step) / dt);
    stepsPerCpuSecond.push((b.step - a.step) / cpu);
    rendersPerSecond.push((b.renders - a.renders) / dt);
    loads.push(loadAverage());
  }
  await page.click('#play');
  const info = await counters();
  console.log(`playground speed, headless Chromium, backend ${info.backend}, #${info.hash}`);
  console.log(`| round | SAM steps/s (wall) | SAM steps per renderer CPU-second | view updates/s | load average (1, 5, 15 min) |`);
  console.log(`|---:|---:|---:|---:|---|`);
  stepsPerSecond.forEach((s, i) =>
    console.log(`| ${i + 1} | ${s.toFixed(0)} | ${stepsPerCpuSecond[i]!.toFixed(0)} | ${rendersPerSecond[i]!.toFixed(1)} | ${loads[i]} |`),
  );
  const steps = median(stepsPerSecond);
  const views = median(rendersPerSecond);
  console.log(
    `median: ${steps.toFixed(0)} SAM steps/s (target >= 100: ${steps >= 100 ? 'met' : 'NOT met'}), ` +
      `${views.toFixed(1)} view updates/s (target >= 10: ${views >= 10 ? 'met' : 'NOT met'}); ` +
      `${median(stepsPerCpuSecond).toFixed(0)} steps per renderer CPU-second`,
  );
} finally {
  await browser.close();
  server.close();
  rmSync(dir, { recursive: true, force: true });
}
