/**
 * Workflow histories as fixture files. `historyToJSON`/`historyFromJSON` of @temporalio/common
 * fail in this install ("type must be a Type": @temporalio/common and @temporalio/proto each
 * carry their own copy of protobufjs), so fixtures use protobufjs' plain object form of the
 * History message (int64 and bytes as strings, enums by name), through @temporalio/proto alone.
 */
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { temporal } from '@temporalio/proto';
import proto from '@temporalio/proto';

// A CommonJS module: its namespaces come through the default import.
const History = proto.temporal.api.history.v1.History;

export function historyToFixture(history: temporal.api.history.v1.IHistory): string {
  const object = History.toObject(History.fromObject(history), {
    longs: String,
    enums: String,
    bytes: String,
  });
  return `${JSON.stringify(object, null, 2)}\n`;
}

export function historyFromFixture(text: string): temporal.api.history.v1.History {
  return History.fromObject(JSON.parse(text));
}

/** Every `*.json` history in `dir`, with its file name (without `.json`) as its workflow id. */
export async function readHistoryFixtures(
  dir: string,
): Promise<{ workflowId: string; history: temporal.api.history.v1.History }[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      workflowId: basename(file, '.json'),
      history: historyFromFixture(await readFile(join(dir, file), 'utf8')),
    })),
  );
}
