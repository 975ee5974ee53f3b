/**
 * `flatminima worker` as a separate process for the queue tests, started from the sources as a user
 * would, in its own process group (so a test can kill the worker and its job runners at once, as a
 * machine that dies would), with its log collected.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../cli/helpers.js';

/** A worker process under test. */
export interface WorkerProcess {
  name: string;
  child: ChildProcess;
  /** Its stderr and stdout so far. */
  log(): string;
  /** Resolves when it has printed its description line (it is connected and takes jobs). */
  ready: Promise<void>;
  /** Resolves when it has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Whether it is still running. */
  alive(): boolean;
  /** SIGKILL to the worker and its job runners (the whole process group). */
  killAll(): void;
  /** SIGTERM and wait for the exit (SIGKILL to the group if it takes over 30 s). */
  stop(): Promise<void>;
}

/** Starts `flatminima worker --name <name> <args>`; `env` is added to this process's environment. */
export function startWorker(name: string, args: string[], env: Record<string, string> = {}): WorkerProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'worker', '--name', name, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, FLATMINIMA_DEBUG: '', ...env },
    detached: true,
  });
  let log = '';
  let markReady: () => void = () => {};
  let failReady: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    markReady = resolve;
    failReady = reject;
  });
  const timer = setTimeout(() => failReady(new Error(`worker ${name} did not start within 60 s:\n${log}`)), 60_000);
  const onData = (chunk: Buffer): void => {
    log += chunk.toString();
    if (log.includes(`worker ${name}: `) && /run(s)? at once/.test(log)) {
      clearTimeout(timer);
      markReady();
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      failReady(new Error(`worker ${name} exited (${signal ?? code}) before it was ready:\n${log}`));
      resolve({ code, signal });
    }),
  );
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;
  const killAll = (): void => {
    try {
      process.kill(-(child.pid as number), 'SIGKILL');
    } catch {
      // the group is gone already
    }
  };
  return {
    name,
    child,
    log: () => log,
    ready,
    exited,
    alive,
    killAll,
    async stop(): Promise<void> {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timeout = setTimeout(killAll, 30_000);
      await exited;
      clearTimeout(timeout);
    },
  };
}

/** How many times a worker's log says it started run `id`. */
export function startsOf(workers: readonly WorkerProcess[], id: string): number {
  return workers.reduce(
    (n, w) =>
      n +
      w
        .log()
        .split('\n')
        .filter((l) => l.includes(`: started ${id} `)).length,
    0,
  );
}
