import { DefaultLogger } from '@temporalio/worker';

/**
 * The Temporal SDK's warnings and errors, on stderr (stdout is for the report). The host worker
 * registers no workflows on purpose and says so at every start: that line is dropped.
 */
export function sdkLogger(): DefaultLogger {
  return new DefaultLogger('WARN', (entry) => {
    if (entry.message.startsWith('No workflows registered')) return;
    const meta = entry.meta ? ` ${JSON.stringify(entry.meta)}` : '';
    process.stderr.write(`[temporal ${entry.level}] ${entry.message}${meta}\n`);
  });
}
