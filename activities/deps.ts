import type { LiveContainers } from '../src/host/live-containers.js';
import type { ContainerOwner } from '../src/host/owner.js';
import type { StepAborts } from '../src/host/step-aborts.js';
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
  heartbeatIntervalMs?: number;
  live: LiveContainers;
  aborts: StepAborts;
  owner: ContainerOwner;
  /** The operator's sandbox policy: every step is admitted through it before anything starts. */
  policy: PolicyGate;
}
