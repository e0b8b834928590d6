import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

export type ResultRead = { result: unknown } | { resultError: string } | Record<string, never>;

/**
 * Never through a link (a step can point `result.json` at any host path), never waiting on a
 * writer (a FIFO opens at once with O_NONBLOCK, and is then refused by its type).
 */
const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * Reads the JSON result a step left at `path`, as hostile input: only a regular file, at most
 * `maxBytes` (refused by its size before any read, so a sparse 10 GiB file costs nothing, and
 * read to maxBytes+1 in case it grows meanwhile). No answer ever quotes the file: `shown` is
 * the path the step knows it by, and a JSON error gives only the position.
 */
export async function readResultFile(path: string, maxBytes: number, shown: string): Promise<ResultRead> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, readFlags);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    if (code === 'ELOOP')
      return { resultError: `${shown} is a symbolic link: write the result itself there` };
    return { resultError: `${shown} cannot be opened (${code ?? 'error'}): write a regular file` };
  }
  try {
    const info = await file.stat();
    if (!info.isFile()) {
      return { resultError: `${shown} is not a regular file (${kindOf(info)}): write a regular file` };
    }
    const tooBig = `${shown} is larger than the limit of ${maxBytes} bytes: write less, or keep big outputs in a mounted folder`;
    if (info.size > maxBytes) return { resultError: tooBig };
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { resultError: tooBig };
    return parseJson(buffer.subarray(0, length).toString('utf8'), shown);
  } catch (error) {
    return {
      resultError: `${shown} could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
    };
  } finally {
    await file.close().catch(() => undefined);
  }
}

/** V8's SyntaxError quotes the text; only its position is passed on. */
function parseJson(text: string, shown: string): ResultRead {
  try {
    return { result: JSON.parse(text) };
  } catch (error) {
    const position = /at position (\d+)/.exec((error as Error).message)?.[1];
    const where = position !== undefined ? ` at position ${position}` : text.trim() === '' ? ' (empty)' : '';
    return { resultError: `${shown} is not valid JSON${where}` };
  }
}

function kindOf(info: {
  isFIFO(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isSocket(): boolean;
  isDirectory(): boolean;
}): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  if (info.isDirectory()) return 'a folder';
  return 'not a file';
}
