/** Runs the CLI as a child process from the repository root, as a user would (`node --import tsx src/cli/main.ts`). */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** What a CLI invocation gave. */
export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts `flatminima <args>` from the sources (stdin closed, stdout and stderr piped); `env` is added to the environment. */
export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    // FLATMINIMA_REDIS emptied: a machine set up as a queue worker must not send these tests' runs to its queue.
    env: { ...process.env, FLATMINIMA_DEBUG: '', FLATMINIMA_REDIS: '', ...env },
  }) as unknown as ChildProcessWithoutNullStreams;
}

/** Runs `flatminima <args>` and collects its output (stdin closed, non-TTY, so progress is plain lines). */
export function cli(args: string[], opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((done, fail) => {
    const child = spawnCli(args, opts.env);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`flatminima ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

const created: string[] = [];

/** A fresh temporary directory (removed by {@link removeTempDirs}). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `flatminima-${prefix}-`));
  created.push(dir);
  return dir;
}

/** Removes the directories {@link tempDir} made in this process; pass to node:test's `after`. */
export function removeTempDirs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
