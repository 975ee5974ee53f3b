/**
 * What travels through the queue, and its validation on both sides. A job is input to the worker
 * like any file: its data must be exactly `{ format, spec, backend, checkpointEvery }` with a spec
 * that passes the same zod schema as a spec file, and its id must be that spec's run id. Nothing in a
 * job names code, a module or a command: a worker runs specs, nothing else.
 */
import { z } from 'zod';
import { BACKEND_CHOICES } from '../executor.js';
import type { BackendChoice, Progress } from '../runner.js';
import { runId } from '../runId.js';
import type { RunSpec } from '../schema.js';
import { formatIssues, parseRunSpec, ValidationError } from '../validate.js';
import { RUN_JOB_NAME } from './keys.js';

/** Version of the job data layout; a worker refuses any other. */
export const RUN_JOB_FORMAT = 1;

/** The data of a run job. */
export const RunJobDataSchema = z.strictObject({
  format: z.literal(RUN_JOB_FORMAT),
  /** Checked by parseRunSpec (its messages name the spec's fields). */
  spec: z.unknown(),
  backend: z.enum(BACKEND_CHOICES as [BackendChoice, ...BackendChoice[]]),
  checkpointEvery: z.number().int().positive(),
});

/** A validated run job. */
export interface RunJob {
  /** The job id, equal to `runId(spec)`. */
  id: string;
  spec: RunSpec;
  backend: BackendChoice;
  checkpointEvery: number;
}

/** The job data that asks a worker to run `spec`. */
export function runJobData(spec: RunSpec, backend: BackendChoice, checkpointEvery: number): z.infer<typeof RunJobDataSchema> {
  return { format: RUN_JOB_FORMAT, spec, backend, checkpointEvery };
}

/** A job id as it may be shown: JSON-quoted and cut to 80 characters (a hostile id could be anything). */
export function showJobId(id: unknown): string {
  const text = JSON.stringify(String(id));
  return text.length > 80 ? `${text.slice(0, 76)}..."` : text;
}

/**
 * Checks a job taken from the queue.
 * @throws ValidationError listing every problem (wrong name, unknown or missing fields, a bad spec,
 * an id that is not the spec's run id).
 */
export function parseRunJob(job: { id?: string | undefined; name: string; data: unknown }): RunJob {
  const what = `job ${showJobId(job.id)}`;
  if (job.name !== RUN_JOB_NAME) throw new ValidationError(what, [`name: must be "${RUN_JOB_NAME}", got ${JSON.stringify(job.name)}`]);
  const shape = RunJobDataSchema.safeParse(job.data);
  if (!shape.success)
    throw new ValidationError(
      what,
      formatIssues(shape.error.issues).map((line) => (line.startsWith('(root): ') ? `data: ${line.slice(8)}` : `data.${line}`)),
    );
  let spec: RunSpec;
  try {
    spec = parseRunSpec(shape.data.spec, what);
  } catch (err) {
    if (err instanceof ValidationError)
      throw new ValidationError(
        what,
        err.issues.map((line) => `data.spec.${line}`),
      );
    throw err;
  }
  const id = runId(spec);
  if (job.id !== id) throw new ValidationError(what, [`id: must be the run id of its spec, ${id}`]);
  return { id, spec, backend: shape.data.backend, checkpointEvery: shape.data.checkpointEvery };
}

/** Progress a worker reports for a job (`job.updateProgress`): a runner {@link Progress} and who runs it. */
export const JobProgressSchema = z.strictObject({
  runId: z.string(),
  epoch: z.number().int().positive(),
  epochs: z.number().int().positive(),
  step: z.number().int().positive(),
  stepsPerEpoch: z.number().int().positive(),
  loss: z.number(),
  accuracy: z.number(),
  worker: z.string(),
});
export type JobProgress = Progress & { worker: string };
