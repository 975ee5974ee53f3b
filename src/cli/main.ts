#!/usr/bin/env node
/**
 * The `flatminima` command line: train | compare | reproduce | measure | report (see program.ts).
 * Bad arguments exit with code 2 and one clear message per problem (no stack trace); a run that
 * fails or diverges exits with code 1.
 */
import { EXIT_FAILURE } from './errors.js';
import { main } from './program.js';

// Exit explicitly: the threaded wasm backend's workers must not keep a finished command alive.
main(process.argv).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    process.exit(EXIT_FAILURE);
  },
);
