/**
 * `npm run playground`: builds the site, serves it on localhost with sirv (a small static-file
 * server) and prints the address. Ctrl-C stops it.
 *
 *   node --import tsx playground/serve.ts [--port 8080] [--no-build]
 */
import { createServer, type Server } from 'node:http';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sirv from 'sirv';
import { buildPlayground, DEFAULT_OUT_DIR } from './build.js';

/** Serves `dir` on 127.0.0.1:`port` (0: any free port); resolves with the server and its URL. */
export async function servePlayground(dir: string, port: number): Promise<{ server: Server; url: string }> {
  const handler = sirv(dir, { dev: false, etag: true });
  const server = createServer((req, res) =>
    handler(req, res, () => {
      res.statusCode = 404;
      res.end('not found');
    }),
  );
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('playground: the server has no TCP address');
  return { server, url: `http://127.0.0.1:${address.port}/` };
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, 'no-build': { type: 'boolean', default: false } } });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`playground: --port must be an integer from 0 to 65535, got '${values.port}'`);
    process.exit(2);
  }
  if (!values['no-build']) await buildPlayground(DEFAULT_OUT_DIR);
  const { url } = await servePlayground(DEFAULT_OUT_DIR, port);
  console.log(`flatminima playground: ${url}  (Ctrl-C stops the server)`);
}
