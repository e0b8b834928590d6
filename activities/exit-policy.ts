import type { ExitPolicy } from './types.js';

export type ExitVerdict =
  | { outcome: 'success' }
  | { outcome: 'return' }
  | { outcome: 'fail'; retryable: boolean };

/** Pure: what an exit code means under a step's policy. */
export function judgeExit(exitCode: number, policy: ExitPolicy): ExitVerdict {
  if ((policy.exitCodes ?? [0]).includes(exitCode)) return { outcome: 'success' };
  if (policy.failOn === 'never') return { outcome: 'return' };
  if (policy.nonRetryableExitCodes?.includes(exitCode)) return { outcome: 'fail', retryable: false };
  if (policy.retryableExitCodes) {
    return { outcome: 'fail', retryable: policy.retryableExitCodes.includes(exitCode) };
  }
  return { outcome: 'fail', retryable: true };
}
