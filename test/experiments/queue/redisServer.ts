/**
 * A real redis-server for a test file: started on a free loopback port with a temporary directory,
 * restartable on the same port and directory (the append-only file carries the data across), stopped
 * afterwards. Tests skip with {@link REDIS_SKIP} where redis-server is not installed.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const hasRedis = spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;

/** node:test's `skip` option: false when redis-server is installed, else the reason. */
export const REDIS_SKIP: false | string = hasRedis
  ? false
  : 'redis-server is not installed (Debian: apt-get install redis-server); the queue tests need a real one';

/** A free TCP port on 127.0.0.1 (the kernel picks it; we release it for redis-server to take). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Persist every write to the append-only file before answering (appendonly yes, appendfsync always). */
  durable?: boolean;
  /** Require this password (`requirepass`). */
  password?: string;
}

/** A running test server. */
export interface RedisServer {
  port: number;
  /** Its data directory. */
  dir: string;
  /** `redis://127.0.0.1:<port>` (no password). */
  url: string;
  /** Kills the server with SIGKILL (no shutdown, no final save) and waits for it to exit. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory and waits until it accepts connections. */
  restart(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** Starts redis-server and resolves once it logs that it accepts connections. */
export async function startRedis(opts: RedisServerOptions = {}): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'flatminima-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--daemonize',
    'no',
    '--protected-mode',
    'yes',
    '--loglevel',
    'notice',
    ...(opts.durable ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
    ...(opts.password !== undefined ? ['--requirepass', opts.password] : []),
  ];
  let proc: ChildProcess | null = null;
  const launch = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
      proc = child;
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 20 s:\n${out}`)), 20_000);
      child.stdout!.on('data', (c: Buffer) => {
        out += c.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}) while starting:\n${out}`));
      });
    });
  const kill = async (): Promise<void> => {
    const p = proc;
    if (p === null || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await gone;
  };
  await launch();
  return {
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: launch,
    async stop(): Promise<void> {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
