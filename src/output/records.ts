/**
 * The attempt log's format: one record a line, as Kubernetes writes container logs (the CRI
 * format): `<time> <stream> <F|P> <text>\n`. `F` ends a line of the step's output, `P` is part
 * of one (a chunk that did not end with a newline: a progress bar, a prompt), so that a
 * record is written as soon as the output comes, with no buffering. The stream tells stdout
 * from stderr in one file whose order is the order the output came in; the library's own notes
 * (`temporal-runsc`: what was dropped, where the log ends) are records too. Still text: an
 * operator reads it with `cat`, `grep ' stderr '`.
 */

export type OutputStream = 'stdout' | 'stderr';
/** The library's own records: a note to the reader (a gap), and the end of a complete log. */
export const noteStream = 'temporal-runsc';
export type RecordStream = OutputStream | typeof noteStream;

export interface LogRecord {
  time: string;
  stream: RecordStream;
  /** Part of a line: the next record of the stream continues it. */
  partial: boolean;
  text: Buffer;
}

const newline = 0x0a;

/** The chunk as records: each line one `F` record, what follows the last newline one `P`. */
export function formatRecords(stream: RecordStream, chunk: Buffer, time = new Date()): Buffer {
  const stamp = time.toISOString();
  const parts: Buffer[] = [];
  let start = 0;
  while (start < chunk.length) {
    const end = chunk.indexOf(newline, start);
    const last = end === -1;
    parts.push(
      Buffer.from(`${stamp} ${stream} ${last ? 'P' : 'F'} `),
      chunk.subarray(start, last ? chunk.length : end),
      Buffer.from('\n'),
    );
    start = last ? chunk.length : end + 1;
  }
  return Buffer.concat(parts);
}

/** One note record (a whole line). */
export function noteRecord(text: string, time = new Date()): Buffer {
  return formatRecords(noteStream, Buffer.from(`${text}\n`), time);
}

const recordHead = /^(\S+) (stdout|stderr|temporal-runsc) ([FP]) /;

/**
 * The whole records in `bytes`, and the bytes after the last newline (a record not complete
 * yet: keep them for the next chunk). A line that is not a record (a log of the earlier, raw
 * format) comes back as one stdout line, so old logs still read.
 */
export function parseRecords(bytes: Buffer): { records: LogRecord[]; rest: Buffer } {
  const records: LogRecord[] = [];
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(newline, start);
    if (end === -1) break;
    const line = bytes.subarray(start, end);
    // The head is ASCII; 80 bytes hold it whatever the time's precision.
    const match = recordHead.exec(line.subarray(0, 80).toString('latin1'));
    if (match) {
      records.push({
        time: match[1] as string,
        stream: match[2] as RecordStream,
        partial: match[3] === 'P',
        text: line.subarray(match[0].length),
      });
    } else records.push({ time: '', stream: 'stdout', partial: false, text: line });
    start = end + 1;
  }
  return { records, rest: bytes.subarray(start) };
}

/** The end note: what a reader needs to map offsets of the output to places in the file. */
export interface EndNote {
  /** Bytes of records written from the start (the head). */
  head: number;
  /** Bytes of records dropped after the head. */
  dropped: number;
  /** Length of the dropped note record that stands in their place. */
  note: number;
}

const endNotePattern = /\[temporal-runsc: end head=(\d+) dropped=(\d+) note=(\d+)\]$/;

export function endNoteText(end: EndNote): string {
  return `[temporal-runsc: end head=${end.head} dropped=${end.dropped} note=${end.note}]`;
}

export function parseEndNote(record: LogRecord): EndNote | undefined {
  if (record.stream !== noteStream) return undefined;
  const match = endNotePattern.exec(record.text.toString('latin1'));
  if (!match) return undefined;
  return { head: Number(match[1]), dropped: Number(match[2]), note: Number(match[3]) };
}

/** The note a reader shows where output was dropped. */
export function droppedText(bytes: number): string {
  return `[temporal-runsc: ${bytes} bytes of output dropped here (the log keeps its head and its tail)]`;
}
