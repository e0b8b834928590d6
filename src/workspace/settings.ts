import { z } from 'zod';
import { parseOrThrow } from '../validation.js';

const MiB = 1024 * 1024;

/**
 * What the operator sets about a worker's host files: what of each attempt's output its log
 * keeps, and how long logs are kept. Defaults are small. (The size of `/out` is a step limit,
 * set by the sandbox policy.)
 */
export const hostFileSettingsSchema = z.strictObject({
  logCaps: z
    .strictObject({
      headBytes: z.number().int().nonnegative().default(MiB),
      tailBytes: z.number().int().nonnegative().default(MiB),
    })
    .default({ headBytes: MiB, tailBytes: MiB }),
  logRetention: z
    .strictObject({
      maxAgeMs: z
        .number()
        .int()
        .positive()
        .default(7 * 24 * 3600 * 1000),
      maxTotalBytes: z
        .number()
        .int()
        .nonnegative()
        .default(1024 * MiB),
    })
    .default({ maxAgeMs: 7 * 24 * 3600 * 1000, maxTotalBytes: 1024 * MiB }),
});

export type HostFileSettings = z.output<typeof hostFileSettingsSchema>;
export type HostFileSettingsInput = z.input<typeof hostFileSettingsSchema>;

/** Validates the operator's settings once, at the edge; throws a ValidationError naming each field. */
export function parseHostFileSettings(input: HostFileSettingsInput): HostFileSettings {
  return parseOrThrow(hostFileSettingsSchema, input, 'worker settings');
}
