import type { LiveContainers } from '../src/host/live-containers.js';
import type { ContainerOwner } from '../src/host/owner.js';
import type { StepAborts } from '../src/host/step-aborts.js';
import type { ImageCache } from '../src/image/cache.js';
import type { LogCaps, OutputLog } from '../src/output/log-writer.js';
import type { LogRetention } from '../src/output/retention.js';
import type { PolicyGate } from '../src/policy/admit.js';
import type { Runsc } from '../src/runtime/runsc.js';

/** What the activities close over: built once per worker by createActivities. */
export interface ActivityDeps {
  runtime: Runsc;
  host: string;
  hostQueue: string;
  workDir: string;
  rootfs: string;
  graceMs: number;
  tailBytes: number;
  resultFileMaxBytes: number;
  /** What of each attempt's output its log keeps. */
  logCaps: LogCaps;
  /** How long, and how much, attempt logs are kept (the janitor's sweep). */
  logRetention: LogRetention;
  heartbeatIntervalMs?: number;
  live: LiveContainers;
  /** The logs of the attempts running here, by container id: `readLog` serves them live. */
  liveLogs: Map<string, OutputLog>;
  aborts: StepAborts;
  owner: ContainerOwner;
  /** The operator's sandbox policy: every step is admitted through it before anything starts. */
  policy: PolicyGate;
  /** The host's image cache (steps that name an image). */
  images?: ImageCache;
}
