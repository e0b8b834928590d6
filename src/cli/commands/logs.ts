import { type LogStreams, StepLogError, stepLog } from '../../client/logs.js';
import { type ConnectionFlags, connectClient } from '../connection.js';

export interface LogsFlags extends ConnectionFlags {
  follow?: boolean;
  attempt?: number;
  stderr?: boolean;
  all?: boolean;
  timestamps?: boolean;
}

/**
 * `logs <workflowId> [step]`: the step's output on stdout (stdout only by default, `--stderr`,
 * `--all` both in the order they came); where it comes from, and gaps, on stderr. Exits 0 once
 * the output is printed (or the followed step ended), 1 when the log cannot be read (gone, its
 * host unreachable), 2 for bad input. Ctrl-C stops following.
 */
export async function logsCommand(
  workflowId: string,
  step: string | undefined,
  flags: LogsFlags,
): Promise<number> {
  if (flags.stderr && flags.all) throw new Error('--stderr and --all exclude each other: pick one');
  const streams: LogStreams = flags.all ? 'all' : flags.stderr ? 'stderr' : 'stdout';
  const { client, close } = await connectClient(flags);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  try {
    const entries = stepLog(client.workflow.getHandle(workflowId), step, {
      follow: flags.follow,
      attempt: flags.attempt,
      streams,
      signal: stop.signal,
    });
    let openLine = false;
    for await (const entry of entries) {
      if (entry.type === 'output') {
        process.stdout.write(
          `${flags.timestamps && !openLine ? `${entry.time} ` : ''}${entry.text}${entry.partial ? '' : '\n'}`,
        );
        openLine = entry.partial;
        continue;
      }
      if (openLine) process.stdout.write('\n');
      openLine = false;
      if (entry.type === 'attempt') {
        console.error(
          `== ${entry.step}: attempt ${entry.attempt} of ${entry.attempts} on ${entry.hostQueue}${entry.running ? ' (running)' : ''}`,
        );
      } else console.error(entry.text);
    }
    if (openLine) process.stdout.write('\n');
    return 0;
  } catch (error) {
    if (error instanceof StepLogError) {
      console.error(`temporal-runsc: ${error.message}`);
      return error.reason === 'no-step' ? 2 : 1;
    }
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    await close();
  }
}
