/**
 * The results directory on disk: one folder per run, `<resultsDir>/<runId>/`, holding
 * `record.json` (the {@link RunRecord}), the checkpoint files and the saved model.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomicFile.js';
import type { RunRecord, RunSpec } from './schema.js';
import { parseRunRecord } from './validate.js';

/** File name of a run's record inside its folder. */
export const RECORD_FILE = 'record.json';

/** The record of a run that has not finished an epoch yet. */
export function newRecord(runId: string, spec: RunSpec, fields: Pick<RunRecord, 'backend' | 'threads' | 'versions'>): RunRecord {
  return {
    runId,
    spec,
    status: 'running',
    epochs: [],
    final: null,
    sharpness: null,
    decisionGrid: null,
    divergence: null,
    ...fields,
    startedAt: new Date().toISOString(),
    finishedAt: null,
    wallSeconds: 0,
    modelDir: null,
  };
}
/** Folder name of the saved final model inside a run's folder. */
export const MODEL_DIR = 'model';

/** The folder of one run. */
export function runDir(resultsDir: string, runId: string): string {
  return join(resultsDir, runId);
}

/** Path of a run's record file. */
export function recordPath(resultsDir: string, runId: string): string {
  return join(resultsDir, runId, RECORD_FILE);
}

/**
 * Reads and validates one record file.
 * @throws Error naming the file when it is missing, not JSON, or fails {@link RunRecordSchema}.
 */
export function readRecordFile(path: string): RunRecord {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read run record ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`run record ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return parseRunRecord(json, `run record ${path}`);
}

/** The record of run `runId`, or null when it has none yet. */
export function readRecord(resultsDir: string, runId: string): RunRecord | null {
  const path = recordPath(resultsDir, runId);
  return existsSync(path) ? readRecordFile(path) : null;
}

/** Validates and atomically writes a run's record to `<resultsDir>/<record.runId>/record.json`. */
export function writeRecord(resultsDir: string, record: RunRecord): string {
  const valid = parseRunRecord(record, `run record ${record.runId}`);
  mkdirSync(runDir(resultsDir, valid.runId), { recursive: true });
  const path = recordPath(resultsDir, valid.runId);
  writeFileAtomic(path, `${JSON.stringify(valid, null, 2)}\n`);
  return path;
}

/**
 * Every run record in a results directory (one per run folder that has a record.json), sorted by
 * runId. A missing directory gives an empty list.
 * @throws Error naming the file of the first record that is unreadable or invalid.
 */
export function readRecords(resultsDir: string): RunRecord[] {
  if (typeof resultsDir !== 'string' || resultsDir.length === 0) {
    throw new Error(`resultsDir must be a non-empty path string, got ${JSON.stringify(resultsDir)}`);
  }
  if (!existsSync(resultsDir)) return [];
  if (!statSync(resultsDir).isDirectory()) throw new Error(`resultsDir ${resultsDir} is not a directory`);
  const names = readdirSync(resultsDir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  const records: RunRecord[] = [];
  for (const name of names) {
    const path = join(resultsDir, name, RECORD_FILE);
    if (existsSync(path)) records.push(readRecordFile(path));
  }
  return records;
}
