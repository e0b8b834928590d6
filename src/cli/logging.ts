import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';

/**
 * Sets how much the Temporal SDK inside this process logs. The SDK's default (INFO) prints every
 * failed attempt with a stack, which buries a terminal's progress display; a step's failure is
 * already in its result. Must run before the first worker or connection is created.
 */
export function installSdkLogger(level: LogLevel): void {
  Runtime.install({ logger: new DefaultLogger(level) });
}
