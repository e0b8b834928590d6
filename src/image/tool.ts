/**
 * Runs one image tool (skopeo, umoci) the way `Runsc` runs the runtime: arguments as an array
 * (never a shell), a deadline, an abort signal, bounded output, and failures that carry the
 * command line and the tool's own stderr.
 */
import { execa } from 'execa';

/** A failed image tool call. `reason` sorts it for the caller: retry, or tell the author. */
export class ImageToolError extends Error {
  override name = 'ImageToolError';
  readonly command: readonly string[];
  readonly exitCode?: number;
  readonly stderr: string;
  readonly reason: ImageFailureReason;

  constructor(
    message: string,
    details: { command: readonly string[]; exitCode?: number; stderr?: string; reason: ImageFailureReason },
  ) {
    super(message);
    this.command = details.command;
    this.exitCode = details.exitCode;
    this.stderr = details.stderr ?? '';
    this.reason = details.reason;
  }
}

/**
 * - `unreachable`: the registry did not answer (down, refused, timed out, 5xx): worth a retry.
 * - `not-found`: no such image, tag or file: the reference is wrong.
 * - `denied`: the registry refused the worker's credentials.
 * - `timeout`: the tool ran past its deadline.
 * - `aborted`: the caller gave up (the step was cancelled).
 * - `failed`: anything else (a broken layer, a full disk).
 */
export type ImageFailureReason = 'unreachable' | 'not-found' | 'denied' | 'timeout' | 'aborted' | 'failed';

const unreachable =
  /connection refused|no such host|i\/o timeout|network is unreachable|connection reset|TLS handshake timeout|server misbehaving|EOF|status code 5\d\d|\b50[234] |Service Unavailable|Bad Gateway|Gateway Timeout|timeout awaiting|context deadline exceeded|dial tcp/i;
const notFound =
  /manifest unknown|name unknown|not found|no such file or directory|does not exist|no descriptor found|unknown tag|reference .* not found/i;
// Status codes only as codes: a registry's port (127.0.0.1:40107) is in every message too.
const denied = /unauthorized|denied|authentication required|forbidden|status code (from registry )?40[13]\b/i;

export function classifyToolFailure(stderr: string): ImageFailureReason {
  if (denied.test(stderr)) return 'denied';
  if (notFound.test(stderr)) return 'not-found';
  if (unreachable.test(stderr)) return 'unreachable';
  return 'failed';
}

export interface ToolCallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** Largest stdout read back; more is a failure (an absurd image config, say). */
  maxOutputBytes?: number;
  env?: Record<string, string>;
}

/** Runs `command args...`; resolves with its stdout, or throws ImageToolError. */
export async function runTool(
  command: string,
  args: readonly string[],
  options: ToolCallOptions,
): Promise<string> {
  const line = [command, ...args];
  const result = await execa(command, args, {
    reject: false,
    timeout: options.timeoutMs,
    killSignal: 'SIGKILL',
    stdin: 'ignore',
    maxBuffer: options.maxOutputBytes ?? 4 * 1024 * 1024,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    ...(options.env ? { env: options.env } : {}),
  });
  const stderr = String(result.stderr ?? '').trim();
  const name = args.find((arg) => !arg.startsWith('-')) ?? '';
  if (result.timedOut) {
    throw new ImageToolError(`${command} ${name} did not finish within ${options.timeoutMs} ms`, {
      command: line,
      stderr,
      reason: 'timeout',
    });
  }
  if (result.isCanceled) {
    throw new ImageToolError(`${command} ${name} was stopped: the step was cancelled`, {
      command: line,
      stderr,
      reason: 'aborted',
    });
  }
  if (result.isMaxBuffer) {
    throw new ImageToolError(`${command} ${name} printed more than ${options.maxOutputBytes} bytes`, {
      command: line,
      reason: 'failed',
    });
  }
  if (result.exitCode === undefined) {
    const code = (result as { code?: string }).code;
    throw new ImageToolError(
      code === 'ENOENT'
        ? `cannot start ${command}: it is not installed (scripts/setup.sh installs it)`
        : `${command} ${name} was ended by ${result.signal ?? code ?? 'an error'}`,
      { command: line, stderr, reason: 'failed' },
    );
  }
  if (result.exitCode !== 0) {
    throw new ImageToolError(`${command} ${name} failed (exit ${result.exitCode}): ${lastLine(stderr)}`, {
      command: line,
      exitCode: result.exitCode,
      stderr,
      reason: classifyToolFailure(stderr),
    });
  }
  return String(result.stdout ?? '');
}

function lastLine(text: string): string {
  return (text.split('\n').filter(Boolean).at(-1) ?? '(no output)').slice(0, 1000);
}
