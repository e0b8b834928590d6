/**
 * Reads a workflow's history into a timeline: when the server recorded each event, and which
 * activity (by type) each activity event belongs to. This is how the bench sees where the time
 * of a step goes without any hook in the library.
 */
import type { PipelineHandle } from '../src/client/index.js';

export interface ActivityTimeline {
  type: string;
  scheduledEventId: number;
  scheduled: number;
  /** Time the last attempt started (the server writes this event when the attempt ends). */
  started?: number;
  attempt?: number;
  completed?: number;
  cancelRequested?: number;
  /** Cancelled, failed or timed out (final). */
  ended?: number;
}

/** One workflow task: queued (scheduled), picked up by a worker (started), answered (completed). */
export interface WorkflowTaskTimeline {
  scheduled: number;
  started?: number;
  completed?: number;
}

export interface WorkflowTimeline {
  started: number;
  /** Completed, failed or cancelled. */
  closed?: number;
  activities: ActivityTimeline[];
  /** Completed workflow tasks. */
  workflowTasks: number;
  /** Every workflow task in history order. */
  tasks: WorkflowTaskTimeline[];
  signals: number;
  /** Local activities (MarkerRecorded events): they run inside a workflow task, no events of their own. */
  localActivities: number;
  cancelRequested?: number;
  events: number;
}

type History = Awaited<ReturnType<PipelineHandle['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/** A protobuf Timestamp (seconds may be a Long) as epoch milliseconds, keeping sub-ms digits. */
export function timestampMs(ts: HistoryEvent['eventTime']): number {
  if (!ts) return Number.NaN;
  return Number(String(ts.seconds ?? 0)) * 1000 + (ts.nanos ?? 0) / 1e6;
}

function idOf(value: unknown): number {
  return Number(String(value ?? 0));
}

export async function workflowTimeline(handle: PipelineHandle): Promise<WorkflowTimeline> {
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  const activities = new Map<number, ActivityTimeline>();
  const timeline: WorkflowTimeline = {
    started: Number.NaN,
    activities: [],
    workflowTasks: 0,
    tasks: [],
    signals: 0,
    localActivities: 0,
    events: events.length,
  };
  for (const event of events) {
    const at = timestampMs(event.eventTime);
    const activityOf = (scheduledEventId: unknown) => activities.get(idOf(scheduledEventId));
    if (event.workflowExecutionStartedEventAttributes) timeline.started = at;
    else if (
      event.workflowExecutionCompletedEventAttributes ||
      event.workflowExecutionFailedEventAttributes ||
      event.workflowExecutionCanceledEventAttributes ||
      event.workflowExecutionTerminatedEventAttributes
    ) {
      timeline.closed = at;
    } else if (event.workflowTaskScheduledEventAttributes) timeline.tasks.push({ scheduled: at });
    else if (event.workflowTaskStartedEventAttributes) {
      const task = timeline.tasks.at(-1);
      if (task) task.started = at;
    } else if (event.workflowTaskCompletedEventAttributes) {
      timeline.workflowTasks++;
      const task = timeline.tasks.at(-1);
      if (task) task.completed = at;
    } else if (event.workflowExecutionSignaledEventAttributes) timeline.signals++;
    else if (event.markerRecordedEventAttributes) timeline.localActivities++;
    else if (event.workflowExecutionCancelRequestedEventAttributes) timeline.cancelRequested = at;
    else if (event.activityTaskScheduledEventAttributes) {
      const id = idOf(event.eventId);
      activities.set(id, {
        type: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        scheduledEventId: id,
        scheduled: at,
      });
    } else if (event.activityTaskStartedEventAttributes) {
      const activity = activityOf(event.activityTaskStartedEventAttributes.scheduledEventId);
      if (activity) {
        activity.started = at;
        activity.attempt = event.activityTaskStartedEventAttributes.attempt ?? undefined;
      }
    } else if (event.activityTaskCompletedEventAttributes) {
      const activity = activityOf(event.activityTaskCompletedEventAttributes.scheduledEventId);
      if (activity) activity.completed = at;
    } else if (event.activityTaskCancelRequestedEventAttributes) {
      const activity = activityOf(event.activityTaskCancelRequestedEventAttributes.scheduledEventId);
      if (activity) activity.cancelRequested = at;
    } else if (event.activityTaskCanceledEventAttributes) {
      const activity = activityOf(event.activityTaskCanceledEventAttributes.scheduledEventId);
      if (activity) activity.ended = at;
    } else if (event.activityTaskFailedEventAttributes) {
      const activity = activityOf(event.activityTaskFailedEventAttributes.scheduledEventId);
      if (activity) activity.ended = at;
    } else if (event.activityTaskTimedOutEventAttributes) {
      const activity = activityOf(event.activityTaskTimedOutEventAttributes.scheduledEventId);
      if (activity) activity.ended = at;
    }
  }
  timeline.activities = [...activities.values()];
  return timeline;
}

/** The only activity of a type in the timeline; throws when there is not exactly one. */
export function onlyActivity(timeline: WorkflowTimeline, type: string): ActivityTimeline {
  const found = optionalActivity(timeline, type);
  if (!found) throw new Error(`expected one ${type} activity in the history, found none`);
  return found;
}

/** The only activity of a type, or undefined when there is none (a local activity leaves no events). */
export function optionalActivity(timeline: WorkflowTimeline, type: string): ActivityTimeline | undefined {
  const matches = timeline.activities.filter((a) => a.type === type);
  if (matches.length > 1) {
    throw new Error(`expected at most one ${type} activity in the history, found ${matches.length}`);
  }
  return matches[0];
}
