/**
 * The library's own metrics, on the SDK's metric meter, so that they come out of the same
 * endpoint as the SDK's (`Runtime.install({ telemetryOptions: { metrics: { prometheus } } })`,
 * which `worker --metrics-address` does): no second server. Facts arrive as diagnostics-channel
 * messages (events.ts); this module only counts them.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { MetricMeter } from '@temporalio/common';
import {
  type AbortEvent,
  type CleanupEvent,
  type ContainersEvent,
  channels,
  type ImagePullEvent,
  type RuntimeCallEvent,
  type StepEvent,
} from './events.js';

export type { StepOutcome } from './events.js';
export { publish } from './events.js';

/** Every metric this library exports, with what it means (README, "Watching steps"). */
export const metricNames = {
  containersRunning: 'temporal_runsc_containers_running',
  stepsStarted: 'temporal_runsc_steps_started_total',
  stepsEnded: 'temporal_runsc_steps_ended_total',
  stepsRefused: 'temporal_runsc_steps_refused_total',
  stepDuration: 'temporal_runsc_step_duration_seconds',
  stepStartLatency: 'temporal_runsc_step_start_latency_seconds',
  aborts: 'temporal_runsc_aborts_total',
  abortDuration: 'temporal_runsc_abort_duration_seconds',
  cleanupFindings: 'temporal_runsc_cleanup_findings_total',
  runtimeCallDuration: 'temporal_runsc_runtime_call_duration_seconds',
  runtimeCallTimeouts: 'temporal_runsc_runtime_call_timeouts_total',
  imagePulls: 'temporal_runsc_image_pulls_total',
  imagePullDuration: 'temporal_runsc_image_pull_duration_seconds',
} as const;

/** Bucket bounds (seconds) of the library's histograms: steps run for seconds to hours, calls for ms. */
export const histogramBuckets: Record<string, number[]> = {
  [metricNames.stepDuration]: [0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 21600],
  [metricNames.stepStartLatency]: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  [metricNames.abortDuration]: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  [metricNames.runtimeCallDuration]: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  [metricNames.imagePullDuration]: [0.1, 0.5, 1, 5, 10, 30, 60, 300],
};

/**
 * The SDK's Prometheus exporter on `bindAddress`, with the buckets above: the `metrics` part of
 * `Runtime.install({ telemetryOptions })`. The SDK's own metrics keep the SDK's names and units.
 */
export function prometheusMetrics(bindAddress: string) {
  return { prometheus: { bindAddress, histogramBucketOverrides: histogramBuckets } };
}

const subscriptions = new Map<MetricMeter, { count: number; stop: () => void }>();

/**
 * Records the library's facts on `meter` until the returned function is called. Idempotent per
 * meter (several workers of one process count each fact once). A failing instrument never
 * reaches the code that published the fact.
 */
export function recordLibraryMetrics(meter: MetricMeter): () => void {
  const existing = subscriptions.get(meter);
  if (existing) {
    existing.count++;
    return once(() => release(meter));
  }
  const stop = subscribeAll(meter);
  subscriptions.set(meter, { count: 1, stop });
  return once(() => release(meter));
}

function release(meter: MetricMeter): void {
  const entry = subscriptions.get(meter);
  if (!entry || --entry.count > 0) return;
  entry.stop();
  subscriptions.delete(meter);
}

function subscribeAll(meter: MetricMeter): () => void {
  const m = metricNames;
  const running = meter.createGauge(m.containersRunning, 'int', undefined, 'containers this worker runs now');
  const started = meter.createCounter(m.stepsStarted, undefined, 'step attempts whose container started');
  const ended = meter.createCounter(m.stepsEnded, undefined, 'step attempts that ended, by outcome');
  const refused = meter.createCounter(m.stepsRefused, undefined, 'steps refused before anything ran');
  const duration = meter.createHistogram(m.stepDuration, 'float', undefined, 'run time of a step attempt');
  const startLatency = meter.createHistogram(
    m.stepStartLatency,
    'float',
    undefined,
    'from the attempt being scheduled to its container starting',
  );
  const aborts = meter.createCounter(
    m.aborts,
    undefined,
    'abort sequences, by whether the container was confirmed gone',
  );
  const abortDuration = meter.createHistogram(
    m.abortDuration,
    'float',
    undefined,
    'how long an abort sequence took',
  );
  const cleanup = meter.createCounter(
    m.cleanupFindings,
    undefined,
    'what host sweeps removed or reported, by kind',
  );
  const callDuration = meter.createHistogram(
    m.runtimeCallDuration,
    'float',
    undefined,
    'runtime management calls (state, kill, delete, list...), by command and outcome',
  );
  const callTimeouts = meter.createCounter(
    m.runtimeCallTimeouts,
    undefined,
    'runtime calls that hit their deadline',
  );
  const pulls = meter.createCounter(m.imagePulls, undefined, 'image pulls, by outcome');
  const pullDuration = meter.createHistogram(
    m.imagePullDuration,
    'float',
    undefined,
    'how long an image pull took',
  );

  const handlers: [keyof typeof channels, (message: never) => void][] = [
    [
      'step',
      (event: StepEvent) => {
        if (event.kind === 'started') {
          started.add(1);
          startLatency.record(Math.max(0, event.startLatencyMs) / 1000);
        } else if (event.kind === 'ended') {
          ended.add(1, { outcome: event.outcome });
          duration.record(event.durationMs / 1000, { outcome: event.outcome });
        } else refused.add(1);
      },
    ],
    ['containers', (event: ContainersEvent) => running.set(event.running)],
    [
      'runtimeCall',
      (event: RuntimeCallEvent) => {
        callDuration.record(event.durationMs / 1000, { command: event.command, outcome: event.outcome });
        if (event.outcome === 'timeout') callTimeouts.add(1, { command: event.command });
      },
    ],
    [
      'abort',
      (event: AbortEvent) => {
        aborts.add(1, { gone: String(event.gone) });
        abortDuration.record(event.durationMs / 1000);
      },
    ],
    [
      'cleanup',
      (event: CleanupEvent) => {
        for (const [kind, count] of Object.entries(event.findings))
          if (count > 0) cleanup.add(count, { kind });
      },
    ],
    [
      'imagePull',
      (event: ImagePullEvent) => {
        pulls.add(1, { outcome: event.outcome });
        pullDuration.record(event.durationMs / 1000, { outcome: event.outcome });
      },
    ],
  ];
  const subscribed = handlers.map(([name, handler]) => {
    const safe = (message: unknown) => {
      try {
        handler(message as never);
      } catch {
        // A metric must never break the step it describes.
      }
    };
    subscribe(channels[name].name as string, safe);
    return () => unsubscribe(channels[name].name as string, safe);
  });
  return () => {
    for (const stop of subscribed) stop();
  };
}

function once(action: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    action();
  };
}
