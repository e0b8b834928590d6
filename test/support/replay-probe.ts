/**
 * A workflow interceptor for replay tests: reports each activity the workflow code schedules,
 * with its arguments, through a sink that runs during replay too. Temporal's own replay check
 * compares an activity's type and id with the history, not its input; this lets a test compare
 * the input as well, which is what a running step receives.
 */
import { proxySinks, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export interface ReplayProbeSinks extends Sinks {
  replayProbe: { scheduled(activityType: string, args: unknown[]): void };
}

const { replayProbe } = proxySinks<ReplayProbeSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      scheduleActivity(input, next) {
        replayProbe.scheduled(input.activityType, input.args);
        return next(input);
      },
    },
  ],
});
