/** Reads the operator's policy (a YAML or JSON file, plus flags) into one checked SandboxPolicy. */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { parseOrThrow, ValidationError } from '../validation.js';
import {
  type NetworkMode,
  type SandboxPolicy,
  type SandboxPolicyInput,
  sandboxPolicySchema,
} from './schema.js';

export function parsePolicy(input: unknown, what = 'sandbox policy'): SandboxPolicy {
  return parseOrThrow(sandboxPolicySchema, input ?? {}, what, 'policy');
}

/** The policy file: YAML (JSON is YAML too, but `.json` is read strictly as JSON). */
export async function readPolicyFile(path: string): Promise<SandboxPolicyInput> {
  const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new ValidationError('sandbox policy', [
      { field: '--policy', message: `cannot read ${path} (${error.code ?? error.message}): fix the path` },
    ]);
  });
  try {
    const value = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text, { uniqueKeys: true });
    return (value ?? {}) as SandboxPolicyInput;
  } catch (error) {
    throw new ValidationError(`sandbox policy ${path}`, [
      {
        field: '(file)',
        message: `is not valid ${/\.json$/i.test(path) ? 'JSON' : 'YAML'}: ${(error as Error).message}`,
      },
    ]);
  }
}

/** The few settings the worker's flags may add to a policy file (a flag only ever widens it). */
export interface PolicyFlags {
  allowMountReadOnly?: string[];
  allowMountReadWrite?: string[];
  allowRootfs?: string[];
  allowNetwork?: NetworkMode[];
  secretsDir?: string;
  allowWeakRuntime?: boolean;
}

/** The policy of a worker: its file (if any) with its flags on top, checked as one. */
export async function loadPolicy(file: string | undefined, flags: PolicyFlags = {}): Promise<SandboxPolicy> {
  const base = file ? await readPolicyFile(file) : {};
  const merged = {
    ...base,
    ...(flags.allowRootfs?.length ? { rootfs: [...(base.rootfs ?? []), ...flags.allowRootfs] } : {}),
    ...(flags.allowMountReadOnly?.length || flags.allowMountReadWrite?.length
      ? {
          mounts: {
            readOnly: [...(base.mounts?.readOnly ?? []), ...(flags.allowMountReadOnly ?? [])],
            readWrite: [...(base.mounts?.readWrite ?? []), ...(flags.allowMountReadWrite ?? [])],
          },
        }
      : {}),
    ...(flags.allowNetwork?.length
      ? { network: [...new Set(['none' as const, ...(base.network ?? []), ...flags.allowNetwork])] }
      : {}),
    ...(flags.secretsDir ? { secrets: { ...base.secrets, dir: flags.secretsDir } } : {}),
    ...(flags.allowWeakRuntime ? { allowWeakRuntime: true } : {}),
  };
  return parsePolicy(merged, file ? `sandbox policy ${file}` : 'sandbox policy');
}
