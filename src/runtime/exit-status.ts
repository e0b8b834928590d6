import { constants } from 'node:os';

/** How one `run` ended, in the shell's convention. */
export interface ExitStatus {
  /** The container's exit code; 128+N when it (or the runtime) was killed by signal N. */
  exitCode: number;
  /** The signal's name (`SIGKILL`) when the code says a signal ended it. */
  signal?: string;
  /** Set when the runtime itself failed (its JSON log holds an error), not the step. */
  runtimeError?: string;
}

const signalNames = new Map<number, string>(
  Object.entries(constants.signals).map(([name, number]) => [number, name]),
);

export function signalNumber(name: string): number | undefined {
  return (constants.signals as Record<string, number>)[name];
}

/**
 * Maps what the `run` child reported to an exit status. A runtime that was itself killed has no
 * exit code, only a signal: that gives 128+N too, as a shell would say. A code above 128 names a
 * signal only when it is one; a step may still `exit 130` on its own, and that cannot be told
 * apart here, exactly as in a shell.
 */
export function toExitStatus(
  child: { exitCode?: number; signal?: string },
  runtimeErrors: readonly string[],
): ExitStatus {
  let exitCode: number;
  let signal: string | undefined;
  if (child.exitCode === undefined && child.signal) {
    signal = child.signal;
    exitCode = 128 + (signalNumber(child.signal) ?? 0);
  } else {
    exitCode = child.exitCode ?? 128;
    if (exitCode > 128) signal = signalNames.get(exitCode - 128);
  }
  const status: ExitStatus = { exitCode };
  if (signal) status.signal = signal;
  const lastError = runtimeErrors.at(-1);
  if (lastError !== undefined) status.runtimeError = lastError;
  return status;
}

/**
 * Reads the runtime's `--log-format=json` file. runsc writes objects back to back, sometimes
 * without a newline between them, so the text is split on object boundaries rather than lines.
 * Returns the messages of error-level entries, oldest first.
 */
export function runtimeErrorsFromLog(text: string): string[] {
  const errors: string[] = [];
  for (const chunk of text.split(/(?<=\})\s*(?=\{")/)) {
    const trimmed = chunk.trim();
    if (!trimmed.startsWith('{')) continue;
    try {
      const entry = JSON.parse(trimmed) as { level?: string; msg?: string; message?: string };
      const level = entry.level?.toLowerCase();
      if (level === 'error' || level === 'fatal') errors.push(entry.msg ?? entry.message ?? trimmed);
    } catch {
      // A line cut short by a killed runtime: nothing reliable to report from it.
    }
  }
  return errors;
}

/**
 * Reads runsc's `--panic-log`. It stays empty on a healthy run; anything in it means the sandbox
 * itself crashed (a Go `panic:`, or a `fatal error:` such as `newosproc` when a fork storm
 * exhausts the pids limit), whatever exit code runsc then gave. Returns one line naming the crash.
 */
export function sandboxPanic(text: string): string | undefined {
  const lines = text.split('\n').map((line) => line.trim());
  const headline =
    lines.find((line) => line.startsWith('panic:') || line.startsWith('fatal error:')) ??
    lines.find((line) => line.length > 0);
  return headline === undefined ? undefined : `sandbox crashed: ${headline}`;
}
