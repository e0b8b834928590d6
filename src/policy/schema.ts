/**
 * The sandbox policy: what the operator of a worker lets steps ask for. It is set on the worker
 * (a policy file and a few flags), never taken from workflow input. One schema; its output is
 * the complete policy with every default filled in, so admission never guesses.
 */
import { z } from 'zod';
import { minimumPidsLimit, networkSchema, secretNamePattern } from '../bundle/spec.js';
import { durationMs } from '../pipeline/duration.js';

export const networkModes = networkSchema.options;
export type NetworkMode = (typeof networkModes)[number];

const absolutePath = z
  .string({ error: 'must be an absolute path' })
  .refine((path) => path.startsWith('/'), { error: 'must be an absolute path, starting with "/"' })
  .refine((path) => !path.split('/').includes('..'), { error: 'must not contain "..": write the path out' });

const positiveInteger = (what: string) =>
  z
    .number({ error: `must be a number: ${what}` })
    .int({ error: `must be a whole number: ${what}` })
    .positive({ error: `must be greater than 0: ${what}` });

const duration = z
  .union([z.number(), z.string()], { error: 'must be a duration like "30m" or a number of milliseconds' })
  .transform((value, ctx) => {
    const ms = durationMs(value);
    if (ms === undefined || !(ms > 0)) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration longer than zero, like "30m"' });
      return z.NEVER;
    }
    return ms;
  });

/** A duration that may be zero (0: off). */
const durationOrZero = z
  .union([z.number(), z.string()], { error: 'must be a duration like "30s", or 0' })
  .transform((value, ctx) => {
    const ms = value === 0 || value === '0' ? 0 : durationMs(value);
    if (ms === undefined || !(ms >= 0)) {
      ctx.addIssue({ code: 'custom', message: 'must be a duration like "30s", or 0' });
      return z.NEVER;
    }
    return ms;
  });

/**
 * A registry, or a repository prefix in one: `host[:port]` or `host[:port]/path`. The host is
 * named in full (a dot, a port or localhost): references with short names are refused anyway.
 */
const registryPrefix = z
  .string({ error: 'must be a registry or repository prefix, e.g. registry.example/team' })
  .regex(
    /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*\/?$/,
    { error: 'must be a registry or repository prefix, e.g. registry.example or registry.example/team' },
  )
  .refine((prefix) => /[.:]/.test(prefix.split('/')[0] ?? '') || prefix.split('/')[0] === 'localhost', {
    error:
      'must name the registry host in full (with a dot, a port, or localhost), e.g. registry.example/team',
  });

const hostPort = z
  .string({ error: 'must be a registry host[:port], e.g. 127.0.0.1:5000' })
  .regex(/^[a-zA-Z0-9.-]+(?::[0-9]{1,5})?$/, {
    error: 'must be a registry host[:port], e.g. 127.0.0.1:5000',
  });

export const defaultImagePolicy = {
  maxImageBytes: 4 * 1024 * 1024 * 1024,
  pullTimeoutMs: 10 * 60_000,
  tagTtlMs: 0,
  cache: { maxBytes: 20 * 1024 * 1024 * 1024, maxAgeMs: 7 * 24 * 3_600_000 },
} as const;

/**
 * Images steps may name (`image:`). Nothing by default: a reference from workflow input makes
 * the worker (root) reach a registry and fill its disk, so the operator names where from.
 */
const imagesSchema = z
  .strictObject({
    /** Registries or repository prefixes: `registry.example` allows all of it, `registry.example/team` that path and below. */
    registries: z.array(registryPrefix).default([]),
    /** Folders under which `oci:`, `oci-archive:` and `docker-archive:` paths may lie (real paths). */
    layouts: z.array(absolutePath).default([]),
    /** Registries reached over plain HTTP, without TLS (a local registry on 127.0.0.1). */
    plainHttp: z.array(hostPort).default([]),
    /** Registry credentials (skopeo's --authfile); default: the containers auth file, then ~/.docker/config.json. */
    authFile: absolutePath.optional(),
    /** Largest image: its layers as stored (checked before the fetch), and unpacked. */
    maxImageBytes: positiveInteger('bytes').default(defaultImagePolicy.maxImageBytes),
    /** Deadline of one fetch and of one unpack. */
    pullTimeout: duration.default(defaultImagePolicy.pullTimeoutMs),
    /** How long a tag's digest is reused before the registry is asked again (0: every step asks). */
    tagTtl: durationOrZero.default(defaultImagePolicy.tagTtlMs),
    cache: z
      .strictObject({
        /** Where unpacked images live (root's, 0700). Default: `<workDir>/images`. */
        dir: absolutePath.optional(),
        /** Unpacked images kept in all; past it, unused ones go, least recently used first. */
        maxBytes: positiveInteger('bytes').default(defaultImagePolicy.cache.maxBytes),
        /** An image no step used for this long goes. */
        maxAge: duration.default(defaultImagePolicy.cache.maxAgeMs),
      })
      .default({
        maxBytes: defaultImagePolicy.cache.maxBytes,
        maxAge: defaultImagePolicy.cache.maxAgeMs,
      }),
  })
  .default({
    registries: [],
    layouts: [],
    plainHttp: [],
    maxImageBytes: defaultImagePolicy.maxImageBytes,
    pullTimeout: defaultImagePolicy.pullTimeoutMs,
    tagTtl: defaultImagePolicy.tagTtlMs,
    cache: { maxBytes: defaultImagePolicy.cache.maxBytes, maxAge: defaultImagePolicy.cache.maxAgeMs },
  });

const id = z.number({ error: 'must be a whole number' }).int().nonnegative();
const idRange = z
  .tuple([id, id], { error: 'must be [lowest, highest], e.g. [1000, 1999]' })
  .refine(([low, high]) => low <= high, { error: 'must be [lowest, highest], lowest first' });

/** Resource figures a step may give or the policy fills in: the same names as a step's limits. */
const limitFields = {
  memoryBytes: positiveInteger('bytes, e.g. 536870912 for 512 MiB'),
  pids: positiveInteger('processes').min(minimumPidsLimit, {
    error: `must be at least ${minimumPidsLimit}: runsc counts its own sandbox threads in this limit`,
  }),
  cpus: z.number({ error: 'must be a number of CPUs' }).positive({ error: 'must be greater than 0' }),
  /** Size of the step's writable /tmp. */
  tmpfsBytes: positiveInteger('bytes'),
  /** Size of the step's /out (its result folder): a tmpfs of this size. */
  outBytes: positiveInteger('bytes').min(4096, {
    error: 'must be at least 4096 (one page): /out is a tmpfs of this size',
  }),
};

export const defaultLimits = {
  memoryBytes: 512 * 1024 * 1024,
  // Both runsc builds start a busybox sandbox well below this (ptrace counts a host thread per
  // guest task; see minimumPidsLimit): room for a step's own processes, none for a fork bomb.
  pids: 256,
  cpus: 1,
  tmpfsBytes: 64 * 1024 * 1024,
  outBytes: 1024 * 1024,
} as const;

export const defaultMaxLimits = {
  memoryBytes: 4 * 1024 * 1024 * 1024,
  pids: 4096,
  cpus: 2,
  tmpfsBytes: 1024 * 1024 * 1024,
  outBytes: 64 * 1024 * 1024,
  timeout: 6 * 3_600_000,
} as const;

export const sandboxPolicySchema = z
  .strictObject({
    /** Root filesystem folders steps may name, beside the worker's own (always allowed). */
    rootfs: z.array(absolutePath).default([]),
    /**
     * Host paths steps may bind-mount: a source is allowed when its real path (links resolved)
     * is one of these or under one. `readWrite` entries may also be mounted read-only.
     */
    mounts: z
      .strictObject({
        readOnly: z.array(absolutePath).default([]),
        readWrite: z.array(absolutePath).default([]),
      })
      .default({ readOnly: [], readWrite: [] }),
    user: z
      .strictObject({
        /** Who a step runs as when it names no user. */
        default: z.strictObject({ uid: id, gid: id }).default({ uid: 0, gid: 0 }),
        uids: idRange.default([0, 65535]),
        gids: idRange.default([0, 65535]),
      })
      .default({ default: { uid: 0, gid: 0 }, uids: [0, 65535], gids: [0, 65535] }),
    limits: z
      .strictObject({
        /** What a step that gives no figure gets. */
        default: z.strictObject(limitFields).partial().default({}),
        /**
         * What no step may exceed (a step asking for more is refused). `timeout`: how long one
         * run may last, whatever the workflow's own timeout; the activity aborts it past this.
         */
        max: z
          .strictObject({ ...limitFields, timeout: duration })
          .partial()
          .default({}),
      })
      .default({ default: {}, max: {} }),
    /** Network modes a step may ask for; `none` is every step's default. */
    network: z.array(networkSchema).default(['none']),
    secrets: z
      .strictObject({
        /** The store: one file per secret, named by the secret; root-owned, not world-readable. */
        dir: absolutePath.optional(),
        /** Secrets steps may use; `all` allows every file in the store. */
        allow: z
          .union([
            z.literal('all'),
            z.array(z.string().regex(secretNamePattern, { error: 'must be a secret name' })),
          ])
          .default([]),
      })
      .default({ allow: [] }),
    images: imagesSchema,
    /** runc and crun isolate far less than runsc: steps run under them only when this is true. */
    allowWeakRuntime: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .transform((policy, ctx) => {
    const limits = {
      default: { ...defaultLimits, ...policy.limits.default },
      max: { ...defaultMaxLimits, ...policy.limits.max },
    };
    for (const key of Object.keys(limits.default) as (keyof typeof limits.default)[]) {
      if (limits.default[key] > limits.max[key]) {
        ctx.addIssue({
          code: 'custom',
          path: ['limits', 'default', key],
          message: `is above limits.max.${key} (${limits.max[key]}): lower it or raise the maximum`,
        });
      }
    }
    const [low, high] = policy.user.uids;
    if (policy.user.default.uid < low || policy.user.default.uid > high) {
      ctx.addIssue({ code: 'custom', path: ['user', 'default', 'uid'], message: 'must be inside user.uids' });
    }
    const [glow, ghigh] = policy.user.gids;
    if (policy.user.default.gid < glow || policy.user.default.gid > ghigh) {
      ctx.addIssue({ code: 'custom', path: ['user', 'default', 'gid'], message: 'must be inside user.gids' });
    }
    if (!policy.network.includes('none')) {
      ctx.addIssue({
        code: 'custom',
        path: ['network'],
        message: 'must include none: it is every step’s default',
      });
    }
    return { ...policy, limits };
  });

export type SandboxPolicyInput = z.input<typeof sandboxPolicySchema>;
export type SandboxPolicy = z.output<typeof sandboxPolicySchema>;
export type PolicyLimits = SandboxPolicy['limits']['default'];
