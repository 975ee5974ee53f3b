/**
 * Live progress on stderr. On a terminal: cli-progress bars (one per running run) with epoch, step,
 * clean loss, accuracy and ETA. Elsewhere (a pipe, a CI log): one plain line per run at most every
 * few seconds and at each epoch's end, since redrawn bars make unreadable logs.
 */
import cliProgress from 'cli-progress';
import type { Progress as StepProgress } from '../experiments/runner.js';

/** Receives step progress of any number of runs; `finish(runId)` when a run ends; `stop()` at the end. */
export interface ProgressView {
  update(p: StepProgress): void;
  finish(runId: string): void;
  stop(): void;
}

const fmtLoss = (v: number): string => (Number.isFinite(v) ? v.toFixed(4) : String(v));
const fmtAcc = (v: number): string => (Number.isFinite(v) ? `${(v * 100).toFixed(1)}%` : String(v));

/** Seconds as `42s` or `3m05s`; '?' while there is no estimate. */
function formatEta(t: number): string {
  if (typeof t !== 'number' || !Number.isFinite(t)) return '?';
  const s = Math.round(t);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Steps done so far in the whole run, from a progress report (step counts within the epoch). */
function doneSteps(p: StepProgress): number {
  return Math.min(p.epochs * p.stepsPerEpoch, (p.epoch - 1) * p.stepsPerEpoch + p.step);
}

class BarsView implements ProgressView {
  private readonly multi: cliProgress.MultiBar;
  private readonly bars = new Map<string, cliProgress.SingleBar>();
  private lastRedraw = 0;

  constructor(stream: NodeJS.WriteStream) {
    this.multi = new cliProgress.MultiBar(
      {
        stream,
        format: '{label} |{bar}| epoch {epoch}/{epochs} step {step}/{steps} loss {loss} acc {acc} ETA {eta_formatted}',
        barsize: 20,
        hideCursor: true,
        clearOnComplete: false,
        etaBuffer: 50,
        fps: 5,
        // cli-progress prints its 'NULL' (no estimate yet) as 'LLs'; say '?' instead.
        formatTime: formatEta,
      },
      cliProgress.Presets.shades_classic,
    );
  }

  update(p: StepProgress): void {
    const payload = {
      label: p.runId.length > 40 ? `${p.runId.slice(0, 37)}...` : p.runId,
      epoch: p.epoch,
      epochs: p.epochs,
      step: p.step,
      steps: p.stepsPerEpoch,
      loss: fmtLoss(p.loss),
      acc: fmtAcc(p.accuracy),
    };
    let bar = this.bars.get(p.runId);
    if (!bar) {
      bar = this.multi.create(p.epochs * p.stepsPerEpoch, doneSteps(p), payload);
      this.bars.set(p.runId, bar);
    }
    bar.update(doneSteps(p), payload);
    // A run in this process yields to the event loop only every ~200 ms (YIELD_EVERY_MS in the
    // runner), so the bars' own redraw timer runs late: redraw here too.
    const now = Date.now();
    if (now - this.lastRedraw >= 200) {
      this.lastRedraw = now;
      this.multi.update();
    }
  }

  finish(runId: string): void {
    const bar = this.bars.get(runId);
    if (bar) {
      bar.stop();
      this.multi.remove(bar);
      this.bars.delete(runId);
    }
  }

  stop(): void {
    this.multi.stop();
  }
}

class LinesView implements ProgressView {
  private readonly last = new Map<string, { at: number; epoch: number }>();
  constructor(
    private readonly stream: NodeJS.WritableStream,
    private readonly everyMs: number,
  ) {}

  update(p: StepProgress): void {
    const now = Date.now();
    const prev = this.last.get(p.runId);
    const epochEnd = p.step >= p.stepsPerEpoch;
    if (prev && !epochEnd && now - prev.at < this.everyMs) return;
    this.last.set(p.runId, { at: now, epoch: p.epoch });
    this.stream.write(
      `${p.runId}: epoch ${p.epoch}/${p.epochs} step ${p.step}/${p.stepsPerEpoch} loss ${fmtLoss(p.loss)} acc ${fmtAcc(p.accuracy)}\n`,
    );
  }

  finish(runId: string): void {
    this.last.delete(runId);
  }

  stop(): void {}
}

/** Bars when stderr is a terminal, plain throttled lines otherwise. */
export function createProgressView(opts: { stream?: NodeJS.WriteStream; lineEveryMs?: number } = {}): ProgressView {
  const stream = opts.stream ?? process.stderr;
  return stream.isTTY ? new BarsView(stream) : new LinesView(stream, opts.lineEveryMs ?? 10_000);
}
