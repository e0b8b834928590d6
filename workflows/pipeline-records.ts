/**
 * How much of a pipeline's step records goes into Temporal payloads (its result, its failure's
 * details, its status query, the input of its next run), and how. Temporal refuses a payload
 * over 2 MB (blobSizeLimitError): a completion over it terminates the workflow, and every record
 * was lost with it. So each record is bounded (tails, error), a run's records are counted, and a
 * run whose records reach their budget continues as new (workflows/pipeline.ts). Plain module:
 * bundled into workflow code.
 */
import type { StepReport, StepStatus } from './types.js';

/** Characters of each stream's tail a record keeps (the activity's default tail is as long). */
export const recordTailChars = 8 * 1024;
/** Characters of a failure's message a record keeps. */
export const recordErrorChars = 2000;
/** Default bytes one run's records may take before the pipeline continues as new. */
export const defaultRecordBudgetBytes = 1024 * 1024;
/** The least budget a run gets, however large its input: at least one batch always runs. */
export const minimumRecordBudgetBytes = 1024;
/** What a payload of records and input together is kept under (Temporal's limit is 2 MB). */
export const payloadBudgetBytes = 1536 * 1024;
/** Records past this are cut (truncated) even within one batch: a group too large for a run. */
export const recordsHardLimitBytes = 1792 * 1024;
/** Pending or skipped steps a result or status lists by name; past that, a count (unlisted). */
export const listedWaitingSteps = 100;
/** Failed steps the failure message names; the rest are counted. */
export const namedCulprits = 10;
/** A run continues as new past these, whatever its records take (Temporal's limits are 50 MB, 51,200 events). */
export const maxRunHistoryBytes = 8 * 1024 * 1024;
export const maxRunHistoryEvents = 8000;

/** The last `chars` characters of `text`, not splitting a surrogate pair. */
export function tailOf(text: string, chars: number): string {
  if (text.length <= chars) return text;
  let start = text.length - chars;
  const code = text.charCodeAt(start);
  if (code >= 0xdc00 && code <= 0xdfff) start += 1;
  return text.slice(start);
}

/** The first `chars` characters of `text`, marked when cut. */
export function headOf(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars)}… (cut)`;
}

/** UTF-8 bytes of `text` (what it takes in a JSON payload, escapes aside). */
export function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    // Each half of a surrogate pair: 4 bytes for the pair.
    else if (code >= 0xd800 && code <= 0xdfff) bytes += 2;
    else bytes += 3;
  }
  return bytes;
}

/** Bytes of `value` as JSON. */
export function jsonBytes(value: unknown): number {
  return utf8Bytes(JSON.stringify(value) ?? '');
}

/**
 * The records, cut until their JSON fits `maxBytes`: first the tails of each record to 512
 * characters, then tails and results altogether, oldest first. Records that fit are returned
 * as they are (the same objects).
 */
export function fitRecords(records: readonly StepReport[], maxBytes: number): StepReport[] {
  const sizes = records.map(jsonBytes);
  let total = sizes.reduce((sum, size) => sum + size, 0);
  if (total <= maxBytes) return [...records];
  const out = [...records];
  const passes: ((record: StepReport) => StepReport)[] = [
    (record) => ({
      ...record,
      stdoutTail: tailOf(record.stdoutTail, 512),
      stderrTail: tailOf(record.stderrTail, 512),
      truncated: true,
    }),
    ({ result: _result, ...record }) => ({ ...record, stdoutTail: '', stderrTail: '', truncated: true }),
  ];
  for (const pass of passes) {
    for (let i = 0; i < out.length && total > maxBytes; i++) {
      const cut = pass(out[i] as StepReport);
      const size = jsonBytes(cut);
      total += size - (sizes[i] ?? 0);
      sizes[i] = size;
      out[i] = cut;
    }
  }
  return out;
}

/** Adds the records' statuses to `counts` (a new object). */
export function addCounts(
  counts: Partial<Record<StepStatus, number>>,
  records: readonly StepReport[],
): Partial<Record<StepStatus, number>> {
  const next = { ...counts };
  for (const record of records) next[record.status] = (next[record.status] ?? 0) + 1;
  return next;
}

/** The record of a step that has not run (yet, or at all: `skipped`). */
export function emptyReport(name: string, isFinally: boolean, status: StepStatus = 'pending'): StepReport {
  return {
    name,
    status,
    ...(isFinally ? { finally: true } : {}),
    exitCode: null,
    signal: null,
    attempts: 0,
    containerId: null,
    host: null,
    pid: null,
    durationMs: null,
    stdoutTail: '',
    stderrTail: '',
  };
}
