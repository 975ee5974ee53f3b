/**
 * Progress of a whole sweep on stderr, fed by executor events: one bar over all runs with an ETA
 * (on a terminal), and one line per run as it starts and ends (everywhere), so a CI log or a
 * redirected file reads as a list of what ran.
 */
import cliProgress from 'cli-progress';
import type { ExecutorEvent } from '../experiments/executor.js';
import type { RunRecord } from '../experiments/schema.js';

/** Seconds as `42s`, `3m05s` or `2h07m`; '?' without an estimate. */
export function formatDuration(t: number): string {
  if (!Number.isFinite(t) || t < 0) return '?';
  const s = Math.round(t);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const pct = (v: number | null | undefined): string => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(2)}%` : '—');

/** One line saying how a run ended. */
export function describeOutcome(r: RunRecord): string {
  if (r.status === 'diverged') return `diverged (${r.divergence?.message ?? 'no message'})`;
  if (r.error !== undefined) return `FAILED: ${r.error}`;
  if (r.status === 'running') return 'interrupted (resumes from its checkpoint when run again)';
  const val = r.final?.validationAccuracy;
  return `${val !== undefined && val !== null ? `val ${pct(val)}, ` : ''}test ${pct(r.final?.testAccuracy)}, ${r.wallSeconds.toFixed(1)} s`;
}

/** Tracks a sweep's runs and estimates the time left from the share of the work done. */
export class SweepProgress {
  private readonly fractions = new Map<string, number>();
  private finished = 0;
  private skipped = 0;
  private readonly started = performance.now();
  private readonly bar: cliProgress.SingleBar | null;
  private lastLine = 0;

  /**
   * @param total runs in the sweep (after de-duplication).
   * @param stream where bars and lines go (default stderr); bars only on a terminal.
   */
  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly lineEveryMs = 30_000,
  ) {
    this.bar = stream.isTTY
      ? new cliProgress.SingleBar(
          { stream, format: 'sweep |{bar}| {done}/{total} runs, {running} running | ETA {eta}', barsize: 30, hideCursor: true, fps: 5 },
          cliProgress.Presets.shades_classic,
        )
      : null;
    this.bar?.start(1000, 0, this.payload());
  }

  /** Share of the runs still to do that is done, in [0, 1]. */
  private doneShare(): number {
    const todo = this.total - this.skipped;
    if (todo <= 0) return 1;
    let running = 0;
    for (const f of this.fractions.values()) running += f;
    return Math.min(1, (this.finished + running) / todo);
  }

  /** Seconds left, extrapolated from the elapsed time and the share done. */
  eta(): number {
    const f = this.doneShare();
    const elapsed = (performance.now() - this.started) / 1000;
    return f > 0 ? (elapsed * (1 - f)) / f : NaN;
  }

  private payload(): Record<string, unknown> {
    return { done: this.finished + this.skipped, total: this.total, running: this.fractions.size, eta: formatDuration(this.eta()) };
  }

  private log(line: string): void {
    if (this.bar) {
      // Clear the bar's line, write ours, let the bar redraw below it.
      this.stream.write(`\r\x1b[K${line}\n`);
      this.bar.update(Math.round(this.doneShare() * 1000), this.payload());
    } else this.stream.write(`${line}\n`);
  }

  private counter(): string {
    return `[${this.finished + this.skipped}/${this.total}]`;
  }

  /** Feeds one executor event. */
  handle(e: ExecutorEvent): void {
    switch (e.type) {
      case 'skipped':
        this.skipped++;
        this.log(`${this.counter()} ${e.runId}: already ${e.record.status}, not run again`);
        break;
      case 'started':
        this.fractions.set(e.runId, 0);
        this.log(`${this.counter()} ${e.runId}: started${e.worker !== 'local' ? ` on ${e.worker}` : ''}`);
        break;
      case 'progress': {
        const p = e.progress;
        this.fractions.set(p.runId, Math.min(1, ((p.epoch - 1) * p.stepsPerEpoch + p.step) / (p.epochs * p.stepsPerEpoch)));
        const now = Date.now();
        if (this.bar) this.bar.update(Math.round(this.doneShare() * 1000), this.payload());
        else if (now - this.lastLine >= this.lineEveryMs) {
          this.lastLine = now;
          this.stream.write(`${this.counter()} ${this.fractions.size} running, sweep ETA ${formatDuration(this.eta())}\n`);
        }
        break;
      }
      case 'finished':
        this.fractions.delete(e.record.runId);
        this.finished++;
        this.log(`${this.counter()} ${e.record.runId}: ${describeOutcome(e.record)}; sweep ETA ${formatDuration(this.eta())}`);
        break;
    }
  }

  /** Stops the bar (call once, at the end). */
  stop(): void {
    this.bar?.update(1000, this.payload());
    this.bar?.stop();
  }
}
