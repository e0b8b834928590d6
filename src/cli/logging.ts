import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

/**
 * Sets how much the Temporal SDK inside this process logs. The SDK's default (INFO) prints every
 * failed attempt with a stack, which buries a terminal's progress display; a step's failure is
 * already in its result. The SDK's native core logs on its own, to stdout, where `--json` output
 * goes: its lines are forwarded to the same logger (stderr) instead. Must run before the first
 * worker or connection is created.
 */
export function installSdkLogger(level: LogLevel): void {
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: { logging: { forward: {}, filter: { core: level, other: level } } },
  });
}
