import { RegularFileError, readRegularFile } from '../host/read-regular-file.js';

export type ResultRead = { result: unknown } | { resultError: string } | Record<string, never>;

/**
 * Reads the JSON result a step left at `path`, as hostile input (readRegularFile: no link, no
 * FIFO, at most `maxBytes`). No answer ever quotes the file: `shown` is the path the step
 * knows it by, and a JSON error gives only the position.
 */
export async function readResultFile(path: string, maxBytes: number, shown: string): Promise<ResultRead> {
  try {
    const { bytes } = await readRegularFile(path, { maxBytes });
    return parseJson(bytes.toString('utf8'), shown);
  } catch (error) {
    if (!(error instanceof RegularFileError)) {
      return {
        resultError: `${shown} could not be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`,
      };
    }
    const { problem } = error;
    switch (problem.kind) {
      case 'open':
        if (problem.code === 'ENOENT') return {};
        if (problem.code === 'ELOOP')
          return { resultError: `${shown} is a symbolic link: write the result itself there` };
        return { resultError: `${shown} cannot be opened (${problem.code}): write a regular file` };
      case 'not-regular':
        return { resultError: `${shown} is not a regular file (${problem.what}): write a regular file` };
      case 'too-big':
        return {
          resultError: `${shown} is larger than the limit of ${maxBytes} bytes: write less, or keep big outputs in a mounted folder`,
        };
      case 'read':
        return { resultError: `${shown} could not be read (${problem.code})` };
    }
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
