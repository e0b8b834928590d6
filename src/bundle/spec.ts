import { z } from 'zod';

/**
 * The smallest `limits.pids` accepted on each runsc platform. The limit counts the sandbox's
 * own host threads (Sentry, gofer, and under ptrace one per guest task), not only the step's
 * processes. Measured with `npm run measure:pids` on 2 CPUs, a busybox step that forks: systrap
 * (release-20260905.0) needs 24, ptrace (0.0~20221219) 48; lower values crash the sandbox at
 * start. The floors keep the same margin (about 2.7x) for busier sandboxes and more CPUs.
 */
export const minimumPidsLimitByPlatform = { systrap: 64, ptrace: 128 } as const;

/**
 * The floor a spec is checked against before its platform is known (a pipeline file, activity
 * input): the smallest platform floor. The worker checks its own platform's floor before it
 * starts anything (pidsLimitProblem).
 */
export const minimumPidsLimit = minimumPidsLimitByPlatform.systrap;

/** The floor on `platform`; a platform that was not measured (kvm, unknown) gets ptrace's. */
export function minimumPidsLimitFor(platform: string | undefined): number {
  return platform === 'systrap' ? minimumPidsLimitByPlatform.systrap : minimumPidsLimitByPlatform.ptrace;
}

/** Why `pids` is too low on `platform`, naming the fix; undefined when it is fine. */
export function pidsLimitProblem(pids: number | undefined, platform: string | undefined): string | undefined {
  const floor = minimumPidsLimitFor(platform);
  if (pids === undefined || pids >= floor) return undefined;
  return `must be at least ${floor} on runsc's ${platform ?? 'default'} platform (${pids} given): runsc counts its own sandbox threads in this limit, and a lower one crashes the sandbox`;
}

const absolutePath = (what: string) =>
  z
    .string({ error: `must be a string: ${what}` })
    .min(1, { error: `must not be empty: give ${what}` })
    .refine((path) => path.startsWith('/'), { error: `must be an absolute path (${what})` })
    .refine((path) => !path.split('/').includes('..'), { error: 'must not contain ".."' });

const positiveInteger = (what: string) =>
  z
    .number({ error: `must be a number: ${what}` })
    .int({ error: `must be a whole number: ${what}` })
    .positive({ error: `must be greater than 0: ${what}` });

export const mountSchema = z.strictObject({
  source: absolutePath('the host path to mount'),
  destination: absolutePath('where it appears inside the container'),
  /** Inputs are read-only unless said otherwise; say `readOnly: false` for an output folder. */
  readOnly: z.boolean({ error: 'must be true or false' }).default(true),
});

export const limitsSchema = z.strictObject({
  memoryBytes: positiveInteger('the memory limit in bytes, e.g. 268435456 for 256 MiB').optional(),
  cpus: z
    .number({ error: 'must be a number of CPUs, e.g. 0.5 or 2' })
    .positive({ error: 'must be greater than 0, e.g. 0.5 or 2' })
    .optional(),
  pids: z
    .number({ error: 'must be a whole number of processes' })
    .int({ error: 'must be a whole number of processes' })
    .min(minimumPidsLimit, {
      error: `must be at least ${minimumPidsLimit}: runsc counts its own sandbox threads in this limit, and a lower one crashes the sandbox`,
    })
    .optional(),
});

/** A step's network: `none` unless the worker's policy allows more (runsc's `--network`, per run). */
export const networkSchema = z.enum(['none', 'sandbox', 'host'], {
  error: 'must be none, sandbox or host (as the worker allows; none by default)',
});

/** Secret names: also the default environment variable, so they follow environment names. */
export const secretNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const secretName = z.string({ error: 'must be a secret name' }).regex(secretNamePattern, {
  error: 'must be a secret name: letters, digits and _, not starting with a digit',
});

/** `[NAME]` (the variable is the name) or `{ VAR: NAME }`: names only, never values. */
export const secretsSchema = z.union(
  [
    z.array(secretName),
    z.record(
      z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'environment names are letters, digits and _' }),
      secretName,
    ),
  ],
  { error: 'must be a list of secret names, or a mapping of environment names to secret names' },
);

export const rlimitSchema = z.strictObject({
  type: z.string().regex(/^RLIMIT_[A-Z]+$/, { error: 'must be an rlimit name like RLIMIT_NOFILE' }),
  soft: z.number().int().nonnegative(),
  hard: z.number().int().nonnegative(),
});

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const bundleSpecSchema = z.strictObject({
  /** The root filesystem, shared read-only between runs. */
  rootfs: absolutePath('the root filesystem folder, e.g. /var/lib/temporal-runsc/rootfs'),
  args: z
    .array(z.string({ error: 'every argument must be a string' }), {
      error: 'must be a list of strings, e.g. ["/bin/sh", "-c", "echo hi"]',
    })
    .min(1, { error: 'must name at least the program to run, e.g. ["/bin/true"]' }),
  env: z
    .record(
      z.string().regex(envName, { error: 'environment names are letters, digits and _' }),
      z.string({ error: 'environment values must be strings (quote numbers)' }),
    )
    .default({}),
  cwd: absolutePath('the working directory inside the container').default('/'),
  user: z
    .strictObject({
      uid: z.number().int().nonnegative(),
      gid: z.number().int().nonnegative(),
      additionalGids: z.array(z.number().int().nonnegative()).optional(),
    })
    .default({ uid: 0, gid: 0 }),
  hostname: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$/, { error: 'must be a valid hostname' })
    .default('sandbox'),
  mounts: z.array(mountSchema).default([]),
  /**
   * A writable root (`root.readonly: false`). Only for a runtime that puts its own writable
   * layer over the root (runsc with `rootOverlay`): without one, writes would reach the folder.
   */
  writableRoot: z.boolean().default(false),
  /** Size of the writable tmpfs at /tmp; the rootfs itself is read-only. */
  tmpfsBytes: positiveInteger('the /tmp size in bytes').default(64 * 1024 * 1024),
  limits: limitsSchema.default({}),
  rlimits: z.array(rlimitSchema).default([{ type: 'RLIMIT_NOFILE', soft: 1024, hard: 1024 }]),
  annotations: z.record(z.string(), z.string()).default({}),
  /** cgroup path for the container; defaults to `/temporal-runsc/<id>` when an id is given. */
  cgroupsPath: absolutePath('the cgroup path').optional(),
  /**
   * Hardening for runtimes that share the host's kernel (runc, crun): runc's masked and
   * read-only paths, a seccomp filter and, when given, a user namespace. runsc needs none of it.
   */
  hostKernel: z
    .strictObject({
      /** Map the container's ids 0..size-1 to host ids from hostId up: root inside is nobody outside. */
      userNamespace: z
        .strictObject({ hostId: z.number().int().positive(), size: z.number().int().positive() })
        .optional(),
    })
    .optional(),
});

export type BundleSpecInput = z.input<typeof bundleSpecSchema>;
export type BundleSpec = z.output<typeof bundleSpecSchema>;
export type Mount = z.output<typeof mountSchema>;
export type Limits = z.output<typeof limitsSchema>;
