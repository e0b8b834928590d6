/**
 * The one way the worker (root) reads a host file whose path a step, a workflow or a crashed
 * process may have shaped: never through a link (O_NOFOLLOW), never waiting on a writer (a FIFO
 * opens at once with O_NONBLOCK and is then refused by its type), only a regular file, refused
 * by its size before any read (a sparse 10 GiB file costs nothing) and read to at most
 * maxBytes+1 (a file that grows meanwhile cannot make us read more). Callers word the errors:
 * each knows what the file is to its user.
 */
import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';

const readFlags = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/** Why a file was not read. `code` is the errno of a failed open or read (ELOOP: a link). */
export type RegularFileProblem =
  | { kind: 'open'; code: string }
  | { kind: 'not-regular'; what: string }
  | { kind: 'too-big'; size: number | undefined }
  | { kind: 'read'; code: string };

export class RegularFileError extends Error {
  override name = 'RegularFileError';
  constructor(
    readonly path: string,
    readonly problem: RegularFileProblem,
  ) {
    super(`${path}: ${problem.kind}${'code' in problem ? ` (${problem.code})` : ''}`);
  }
}

/**
 * Reads `path` whole, at most `maxBytes`. Throws RegularFileError; `stats` is the opened file's
 * (its mode and owner, for callers that check them). `too-big` has the size when the file was
 * already too big, undefined when it grew while read.
 */
export async function readRegularFile(
  path: string,
  options: { maxBytes: number },
): Promise<{ bytes: Buffer; stats: Stats }> {
  const { maxBytes } = options;
  const file = await open(path, readFlags).catch((error: NodeJS.ErrnoException) => {
    throw new RegularFileError(path, { kind: 'open', code: error.code ?? 'error' });
  });
  try {
    const stats = await file.stat().catch((error: NodeJS.ErrnoException) => {
      throw new RegularFileError(path, { kind: 'read', code: error.code ?? 'error' });
    });
    if (!stats.isFile()) throw new RegularFileError(path, { kind: 'not-regular', what: kindOf(stats) });
    if (stats.size > maxBytes) throw new RegularFileError(path, { kind: 'too-big', size: stats.size });
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    while (length < buffer.length) {
      const { bytesRead } = await file
        .read(buffer, length, buffer.length - length, length)
        .catch((error: NodeJS.ErrnoException) => {
          throw new RegularFileError(path, { kind: 'read', code: error.code ?? 'error' });
        });
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) throw new RegularFileError(path, { kind: 'too-big', size: undefined });
    return { bytes: buffer.subarray(0, length), stats };
  } finally {
    await file.close().catch(() => undefined);
  }
}

function kindOf(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO';
  if (info.isCharacterDevice() || info.isBlockDevice()) return 'a device';
  if (info.isSocket()) return 'a socket';
  if (info.isDirectory()) return 'a folder';
  return 'not a file';
}
