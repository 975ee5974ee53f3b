/**
 * Where the run queue's Redis is. Parses `redis://[user[:password]@]host[:port][/db]` and `rediss://`
 * (TLS) URLs into plain, serialisable connection settings (they cross to the job runner process over
 * IPC), gives the URL's display form with the password masked, and a redactor that takes the password
 * out of any text (our messages, ioredis errors, a failed job's reason) before it is printed or stored.
 *
 * BullMQ is handed ready-made ioredis clients ({@link createRedisClient}): in an ES module it cannot
 * load ioredis from connection options itself.
 */
import { Redis, type RedisOptions } from 'ioredis';

/** Environment variable holding the Redis URL when `--redis` is not given. */
export const REDIS_URL_ENV = 'FLATMINIMA_REDIS';

/** What replaces a password in anything shown. */
const MASK = '***';

/** How to reach Redis: plain data (no functions), so it can be sent to a child process. */
export interface RedisSettings {
  /** Host name or address. */
  host: string;
  /** TCP port (default 6379). */
  port: number;
  /** Database number (the URL's path; default 0). */
  db: number;
  /** ACL user name, when the URL names one. */
  username?: string;
  /** Password, when the URL has one (never printed: see `display`). */
  password?: string;
  /** Present for `rediss://`: TLS with the server's name checked against its certificate. */
  tls?: {
    /** The name the server's certificate must carry. */
    servername: string;
  };
  /** The URL with the password masked: the only form that may be printed or stored. */
  display: string;
}

/** A parsed Redis URL: its settings, its display form, and a redactor for its password. */
export interface RedisTarget {
  /** The connection settings (plain data). */
  readonly settings: RedisSettings;
  /** The URL with the password masked (same as `settings.display`). */
  readonly display: string;
  /** `text` with every occurrence of the password (plain and URL-encoded) replaced by `***`. */
  redact(text: string): string;
}

/**
 * A function that masks `password` (plain and URL-encoded, and any `alsoAs` spelling, such as the
 * percent-encoding the user typed) wherever it occurs in a text.
 */
export function redactorFor(password: string | undefined, alsoAs: readonly string[] = []): (text: string) => string {
  if (password === undefined || password.length === 0) return (text) => text;
  // Longest first, so a form that contains another is masked whole.
  const forms = [...new Set([password, encodeURIComponent(password), encodeURI(password), ...alsoAs.filter((f) => f.length > 0)])].sort(
    (a, b) => b.length - a.length,
  );
  return (text: string): string => forms.reduce((t, f) => t.split(f).join(MASK), String(text));
}

/**
 * Parses a Redis URL.
 * @param what how the caller names the value in messages (a flag, an environment variable).
 * @throws RangeError naming `what` when the URL is not a usable redis:// or rediss:// URL. The message
 * never repeats a password: it shows the masked URL, or nothing of a value that is not a URL.
 */
export function parseRedisUrl(text: string, what = '--redis'): RedisTarget {
  if (typeof text !== 'string' || text.trim().length === 0) {
    throw new RangeError(`${what} must be a Redis URL such as redis://host:6379 or rediss://user:password@host:6380/0, got an empty value`);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RangeError(
      `${what} must be a Redis URL such as redis://host:6379 or rediss://user:password@host:6380/0, got a value that is not a URL`,
    );
  }
  const password = url.password !== '' ? decodeURIComponent(url.password) : undefined;
  const username = url.username !== '' ? decodeURIComponent(url.username) : undefined;
  const masked = new URL(url.href);
  if (masked.password !== '') masked.password = MASK;
  const display = masked.href.replace(/\/$/, '');
  const problem = (why: string): RangeError => new RangeError(`${what} ${why}, got ${display}`);
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw problem('must start with redis:// or rediss:// (TLS)');
  if (url.hostname === '') throw problem('must name a host');
  if (url.search !== '' || url.hash !== '') throw problem('takes no ?query or #fragment (put the database number in the path: /0)');
  const path = url.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d+$/.test(path)) throw problem('must have a database number (e.g. /0) or nothing as its path');
  const settings: RedisSettings = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? 6379 : Number(url.port),
    db: path === '' ? 0 : Number(path),
    ...(username !== undefined ? { username } : {}),
    ...(password !== undefined ? { password } : {}),
    ...(url.protocol === 'rediss:' ? { tls: { servername: url.hostname } } : {}),
    display,
  };
  return targetOf(settings, [url.password]);
}

/**
 * The {@link RedisTarget} of settings received from elsewhere (a child process gets them over IPC).
 * @param alsoAs other spellings of the password to mask (see {@link redactorFor}).
 */
export function targetOf(settings: RedisSettings, alsoAs: readonly string[] = []): RedisTarget {
  return { settings, display: settings.display, redact: redactorFor(settings.password, alsoAs) };
}

/**
 * The Redis URL from `--redis`, or else from {@link REDIS_URL_ENV}; undefined when neither is set.
 * @throws RangeError when the URL given is unusable (see {@link parseRedisUrl}).
 */
export function redisTargetFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): RedisTarget | undefined {
  if (flag !== undefined) return parseRedisUrl(flag, '--redis');
  const fromEnv = env[REDIS_URL_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? parseRedisUrl(fromEnv, REDIS_URL_ENV) : undefined;
}

/** Options of {@link createRedisClient}. */
export interface RedisClientOptions {
  /** Shown by `CLIENT LIST` on the server (who is connected). */
  connectionName?: string;
  /** Told each connection error, already redacted (default: nothing; an error listener is always attached). */
  onError?: (message: string) => void;
}

/**
 * An ioredis client for `target` as BullMQ needs it: commands wait for a reconnect instead of failing
 * (`maxRetriesPerRequest: null`), so a Redis restart pauses work rather than losing it; reconnects
 * are retried every 0.2-2 s for ever. The connection starts at once.
 */
export function createRedisClient(target: RedisTarget, opts: RedisClientOptions = {}): Redis {
  const s = target.settings;
  const options: RedisOptions = {
    host: s.host,
    port: s.port,
    db: s.db,
    ...(s.username !== undefined ? { username: s.username } : {}),
    ...(s.password !== undefined ? { password: s.password } : {}),
    ...(s.tls !== undefined ? { tls: { servername: s.tls.servername } } : {}),
    ...(opts.connectionName !== undefined ? { connectionName: opts.connectionName } : {}),
    maxRetriesPerRequest: null,
    retryStrategy: (times: number) => Math.min(200 * times, 2000),
  };
  const client = new Redis(options);
  // Without a listener ioredis prints every error itself, unredacted, and a missing listener would
  // make an 'error' event throw.
  client.on('error', (err: Error) => opts.onError?.(target.redact(err.message)));
  return client;
}

/**
 * Waits until `client` is connected and checks the server is Redis >= 6 (what BullMQ and our scripts
 * need).
 * @throws Error (redacted) when Redis cannot be reached or authenticated within `timeoutMs`, or is too old.
 */
export async function connectChecked(client: Redis, target: RedisTarget, timeoutMs = 15_000): Promise<void> {
  let lastError = '';
  let refused: ((err: Error) => void) | null = null;
  const onError = (err: Error): void => {
    lastError = target.redact(err.message);
    // Wrong credentials do not get better by retrying: say so at once.
    if (/WRONGPASS|NOAUTH|NOPERM|invalid password|invalid username/i.test(lastError)) {
      refused?.(new Error(`Redis at ${target.display} refused the credentials: ${lastError}`));
    }
  };
  client.on('error', onError);
  try {
    if (client.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          clearTimeout(timer);
          client.off('ready', onReady);
          refused = null;
          if (err) reject(err);
          else resolve();
        };
        const timer = setTimeout(
          () => done(new Error(`cannot reach Redis at ${target.display} within ${timeoutMs / 1000} s${lastError ? `: ${lastError}` : ''}`)),
          timeoutMs,
        );
        const onReady = (): void => done();
        refused = done;
        client.once('ready', onReady);
      });
    }
    const info = await client.info('server');
    const version = /redis_version:(\d+)\.(\d+)/.exec(info);
    if (version === null || Number(version[1]) < 6) {
      throw new Error(
        `Redis at ${target.display} is version ${version ? `${version[1]}.${version[2]}` : 'unknown'}; flatminima's queue needs Redis >= 6`,
      );
    }
  } finally {
    client.off('error', onError);
  }
}

/** Closes a client politely (QUIT), or drops it when the server is unreachable. */
export async function closeRedisClient(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status !== 'ready') {
    client.disconnect();
    return;
  }
  try {
    await client.quit();
  } catch {
    client.disconnect();
  }
}

/**
 * Logs a connection's ups and downs once each, not every failed reconnect: `lost Redis ...` when an
 * error first arrives, `Redis is back` when it is ready again. Messages are redacted.
 */
export class ConnectionLog {
  private down = false;
  constructor(
    private readonly target: RedisTarget,
    private readonly log: (line: string) => void,
  ) {}

  /** Feeds an error from any client or BullMQ object. */
  error(err: unknown): void {
    if (this.down) return;
    this.down = true;
    this.log(
      `lost Redis at ${this.target.display}: ${this.target.redact((err as Error)?.message ?? String(err))}; reconnecting (work waits, nothing is lost)`,
    );
  }

  /** Feeds a client's 'ready'. */
  ready(): void {
    if (!this.down) return;
    this.down = false;
    this.log(`Redis at ${this.target.display} is back`);
  }

  /** Watches `client` (its 'error' and 'ready' events). */
  watch(client: Redis): void {
    client.on('error', (err: Error) => this.error(err));
    client.on('ready', () => this.ready());
  }
}
