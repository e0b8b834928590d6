import { z } from 'zod';
import { envNamePattern, limitsSchema, minimumPidsLimitByPlatform, mountSchema } from '../spec/container.js';

// The fields a step gives live with the step schema (src/spec), which workflow code imports too.
export {
  type Limits,
  limitsSchema,
  type Mount,
  minimumPidsLimit,
  minimumPidsLimitByPlatform,
  mountSchema,
  networkSchema,
  secretNamePattern,
  secretsSchema,
} from '../spec/container.js';

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

export const rlimitSchema = z.strictObject({
  type: z.string().regex(/^RLIMIT_[A-Z]+$/, { error: 'must be an rlimit name like RLIMIT_NOFILE' }),
  soft: z.number().int().nonnegative(),
  hard: z.number().int().nonnegative(),
});

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
      z.string().regex(envNamePattern, { error: 'environment names are letters, digits and _' }),
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
