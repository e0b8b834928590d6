import { DefaultLogger, type LogLevel, Runtime } from '@temporalio/worker';
import { prometheusMetrics } from '../metrics/index.js';

/**
 * Sets how much the Temporal SDK inside this process logs. The SDK's default (INFO) prints every
 * failed attempt with a stack, which buries a terminal's progress display; a step's failure is
 * already in its result. The SDK's native core logs on its own, to stdout, where `--json` output
 * goes: its lines are forwarded to the same logger (stderr) instead. Must run before the first
 * worker or connection is created. With `metricsAddress` (HOST:PORT), the SDK's Prometheus
 * exporter serves its metrics and the library's (src/metrics) there, under `/metrics`.
 */
export function installSdkLogger(level: LogLevel, metricsAddress?: string): void {
  Runtime.install({
    logger: new DefaultLogger(level),
    telemetryOptions: {
      logging: { forward: {}, filter: { core: level, other: level } },
      ...(metricsAddress ? { metrics: prometheusMetrics(metricsAddress) } : {}),
    },
  });
}
