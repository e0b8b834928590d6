/** The activity interfaces the workflows call, as types only (workflow code must not import Node). */
import type { RunContainerInput, RunContainerResult } from '../activities/types.js';
import type { CleanupOptions, CleanupReport } from '../src/host/cleanup.js';

/** Runs on the shared queue: answers with the queue of the host whose worker picked it up. */
export interface SharedActivities {
  hostQueue(): Promise<{ host: string; hostQueue: string }>;
}

/** Run on one host's own queue. */
export interface HostActivities {
  runContainer(input: RunContainerInput): Promise<RunContainerResult>;
  deleteContainer(input: {
    containerId: string;
    graceMs?: number;
  }): Promise<{ gone: boolean; steps: string[] }>;
  cleanupHost(input?: Omit<CleanupOptions, 'live'>): Promise<CleanupReport>;
}

/** Run on one host's control queue (controlQueueFor): never behind a container. */
export interface ControlActivities {
  abortStep(input: { step: string }): Promise<{ running: boolean }>;
}
