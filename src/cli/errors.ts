/**
 * The CLI's two kinds of failure: a usage error (bad flag, bad spec file; exit code 2, one message
 * per problem, no stack trace) and everything else (exit code 1).
 */

/** Exit code for bad arguments or a bad spec file. */
export const EXIT_USAGE = 2;
/** Exit code for a run that failed or diverged, or any other error. */
export const EXIT_FAILURE = 1;
/** Exit code of `--collect` while some runs of the queue have not finished (try again later). */
export const EXIT_PENDING = 3;
/** Exit code after Ctrl-C (128 + SIGINT, what a shell reports for a process SIGINT ended). */
export const EXIT_INTERRUPTED = 130;

/** A problem with what the user asked for; printed as `error: <line>` per problem and exit code 2. */
export class UsageError extends Error {
  /** One line per problem. */
  readonly problems: string[];
  constructor(problems: string | string[]) {
    const list = Array.isArray(problems) ? problems : [problems];
    super(list.join('\n'));
    this.name = 'UsageError';
    this.problems = list;
  }
}
