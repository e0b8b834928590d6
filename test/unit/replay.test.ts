/**
 * Histories recorded from earlier workflow code (scripts/record-history.ts) replay against the
 * current code: no nondeterminism, and every activity gets the input it got when it ran, so a
 * pipeline that was running when its workers were upgraded goes on as it started. Runs without
 * a server: the replayer is the worker's own.
 */
import { fileURLToPath } from 'node:url';
import { defaultPayloadConverter } from '@temporalio/common';
import { type InjectedSinks, Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { packagedWorkflowsPath } from '../../src/worker/index.js';
import { readHistoryFixtures } from '../support/histories.js';
import type { ReplayProbeSinks } from '../support/replay-probe.js';

const fixtures = fileURLToPath(new URL('../fixtures/histories/', import.meta.url));
const probe = fileURLToPath(new URL('../support/replay-probe.ts', import.meta.url));

type Scheduled = { activityType: string; args: unknown[] };
const histories = await readHistoryFixtures(fixtures);
const replayed = new Map<string, { error?: Error; scheduled: Scheduled[] }>();

beforeAll(async () => {
  const scheduled = new Map<string, Scheduled[]>();
  const sinks: InjectedSinks<ReplayProbeSinks> = {
    replayProbe: {
      scheduled: {
        fn: ({ workflowId }, activityType, args) => {
          const list = scheduled.get(workflowId) ?? [];
          list.push({ activityType, args });
          scheduled.set(workflowId, list);
        },
        callDuringReplay: true,
      },
    },
  };
  const results = Worker.runReplayHistories(
    {
      workflowsPath: packagedWorkflowsPath(),
      interceptors: { workflowModules: [probe] },
      sinks,
    },
    histories,
  );
  for await (const result of results) {
    replayed.set(result.workflowId, {
      ...(result.error ? { error: result.error } : {}),
      scheduled: scheduled.get(result.workflowId) ?? [],
    });
  }
}, 120_000);

/** The activities a history says were scheduled, in order, with their decoded input. */
function scheduledInHistory(history: (typeof histories)[number]['history']): Scheduled[] {
  return (history.events ?? []).flatMap((event) => {
    const attributes = event.activityTaskScheduledEventAttributes;
    if (!attributes) return [];
    return [
      {
        activityType: attributes.activityType?.name ?? '',
        args: (attributes.input?.payloads ?? []).map((payload) =>
          defaultPayloadConverter.fromPayload(payload),
        ),
      },
    ];
  });
}

/** The close event of a history: how its run ended. */
const lastEvent = (history: (typeof histories)[number]['history']) => history.events?.at(-1);

describe('recorded histories', () => {
  it('are there to replay', () => {
    // From the code before references became data (5ef50d2), and references-as-data after;
    // cancelled-group and never-picked-up from runSandboxed's patches (a cancelled group waits
    // for all its members; a step never taken up moves); an input the workflow refuses at start,
    // and the four runs of one that continued as new.
    expect(histories.map((h) => h.workflowId)).toEqual([
      'cancelled-group',
      'cancelled',
      'continued-run1',
      'continued-run2',
      'continued-run3',
      'continued-run4',
      'group-retry',
      'invalid-input',
      'never-picked-up',
      'references-as-data',
      'references',
    ]);
  });

  it.each(histories.map((h) => [h.workflowId, h] as const))('%s replays without nondeterminism', (id) => {
    expect(replayed.get(id)?.error).toBeUndefined();
  });

  it('keep their endings: a refused input fails, a long pipeline continues as new, then completes', () => {
    const byId = new Map(histories.map((h) => [h.workflowId, h.history]));
    const invalid = byId.get('invalid-input');
    expect(invalid && lastEvent(invalid)?.workflowExecutionFailedEventAttributes).toBeTruthy();
    for (const run of ['continued-run1', 'continued-run2', 'continued-run3']) {
      const history = byId.get(run);
      expect(history && lastEvent(history)?.workflowExecutionContinuedAsNewEventAttributes).toBeTruthy();
    }
    const last = byId.get('continued-run4');
    expect(last && lastEvent(last)?.workflowExecutionCompletedEventAttributes).toBeTruthy();
  });

  it.each(histories.map((h) => [h.workflowId, h] as const))(
    '%s gives each activity the input it ran with',
    (id, { history }) => {
      const expected = scheduledInHistory(history);
      // An input refused at start schedules nothing; every other history runs steps.
      if (id !== 'invalid-input') expect(expected.length).toBeGreaterThan(0);
      expect(replayed.get(id)?.scheduled).toEqual(expected);
    },
  );
});
