/**
 * What runs in a container, field by field: the one schema the pipeline parser, the workflow
 * (which validates its input with it) and the container activity share, and the types all
 * three use, inferred from it.
 *
 * Bundled into workflow code (workflows/validate.ts): imports only zod and plain modules, no
 * Node module, nothing that reads a clock, a file or the environment.
 */
import { z } from 'zod';
import { imageReferenceSchema } from '../image/schema.js';

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

export const envNamePattern = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Secret names: also the default environment variable, so they follow environment names. */
export const secretNamePattern = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** A path inside the container or on the worker host: absolute, and `..` written out. */
export const absolutePath = (what: string) =>
  z
    .string({ error: `must be a string: ${what}` })
    .refine((path) => path.startsWith('/'), {
      error: `must be an absolute path (${what}), starting with "/"`,
    })
    .refine((path) => !path.split('/').includes('..'), {
      error: 'must not contain "..": write the path out',
    });

const positiveInteger = (what: string) =>
  z
    .number({ error: `must be a number: ${what}` })
    .int({ error: `must be a whole number: ${what}` })
    .positive({ error: `must be greater than 0: ${what}` });

/**
 * The program: an absolute path, or a bare name that runsc looks up in the step's PATH. A
 * relative path (`bin/tool`) would be taken from the working directory at start, which no step
 * means and runsc reports only as its own failure (exit 128): refused here, before anything runs.
 */
const program = z.string().superRefine((arg, ctx) => {
  if (arg === '') {
    ctx.addIssue({ code: 'custom', message: 'must name the program to run, e.g. "/bin/sh"' });
  } else if (!arg.startsWith('/') && arg.includes('/')) {
    ctx.addIssue({
      code: 'custom',
      message: `${JSON.stringify(arg)} is a relative path: give the program's absolute path inside the container (e.g. "/${arg.replace(/^(\.\/)+/, '')}"), or a bare name found in PATH`,
    });
  }
});

/** A mapping whose wrong-type message says what belongs in it. */
export const mapping = <S extends z.core.$ZodLooseShape>(shape: S, what: string) =>
  z.strictObject(shape, {
    error: (issue) =>
      issue.code !== 'invalid_type'
        ? undefined
        : `must be a mapping of ${what}${Array.isArray(issue.input) ? ', not a list' : ''}`,
  });

/** Missing and wrong-type values get different advice. */
export const required = (missing: string, wrong: string) => (issue: { input?: unknown }) =>
  issue.input === undefined ? `is required: give ${missing}` : `must be ${wrong}`;

const wholeNumber = (what: string, missing = what) =>
  z.number({ error: required(missing, what) }).int({ error: `must be ${what}` });

export const mountSchema = z.strictObject(
  {
    source: absolutePath('the host path to mount'),
    destination: absolutePath('where it appears inside the container'),
    /** Inputs are read-only unless said otherwise; say `readOnly: false` for an output folder. */
    readOnly: z.boolean({ error: 'must be true or false' }).default(true),
  },
  { error: 'must be a mapping with source, destination and optionally readOnly' },
);

export const limitsSchema = z.strictObject(
  {
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
  },
  { error: 'must be a mapping of memoryBytes, cpus and pids' },
);

/** A step's network: `none` unless the worker's policy allows more (runsc's `--network`, per run). */
export const networkSchema = z.enum(['none', 'sandbox', 'host'], {
  error: 'must be none, sandbox or host (as the worker allows; none by default)',
});

const secretName = z.string({ error: 'must be a secret name' }).regex(secretNamePattern, {
  error: 'must be a secret name: letters, digits and _, not starting with a digit',
});

/** `[NAME]` (the variable is the name) or `{ VAR: NAME }`: names only, never values. */
export const secretsSchema = z.union(
  [
    z.array(secretName),
    z.record(
      z.string().regex(envNamePattern, { error: 'environment names are letters, digits and _' }),
      secretName,
    ),
  ],
  { error: 'must be a list of secret names, or a mapping of environment names to secret names' },
);

export const envSchema = z.record(
  z.string().regex(envNamePattern, {
    error: 'must be an environment name: letters, digits and _, not starting with a digit',
  }),
  // Never show the value: environment values are often secrets.
  z.string({ error: 'must be a string: quote numbers and booleans, e.g. "8080" or "true"' }),
  { error: 'must be a mapping of environment names to string values' },
);

/** The fields of what runs in a container; the step and the activity input extend them. */
export const containerSpecShape = {
  args: z
    .array(z.string({ error: 'must be a string: quote numbers, e.g. "10"' }), {
      error: required(
        'the command as a list, e.g. ["/bin/sh", "-c", "echo hi"]',
        'a list of strings, e.g. ["/bin/sh", "-c", "echo hi"]',
      ),
    })
    .min(1, { error: 'must name at least the program to run, e.g. ["/bin/true"]' })
    .superRefine((args, ctx) => {
      const first = args[0];
      if (typeof first !== 'string') return;
      const checked = program.safeParse(first);
      for (const issue of checked.error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: [0], message: issue.message });
      }
    })
    // Optional only when an image gives the command (its Entrypoint and Cmd): checkRootAndCommand.
    .optional(),
  env: envSchema.optional(),
  cwd: absolutePath('the working directory inside the container').optional(),
  user: mapping(
    {
      uid: wholeNumber('a user id: a whole number, 0 or more', 'the user id, e.g. 1000').nonnegative({
        error: 'must be a user id: a whole number, 0 or more',
      }),
      gid: wholeNumber('a group id: a whole number, 0 or more', 'the group id, e.g. 1000').nonnegative({
        error: 'must be a group id: a whole number, 0 or more',
      }),
    },
    'uid and gid',
  ).optional(),
  mounts: z
    .array(mountSchema, { error: 'must be a list of mounts, each with source and destination' })
    .optional(),
  limits: limitsSchema.optional(),
  /** Root filesystem (absolute path on the worker host); the worker's default when not given. */
  rootfs: absolutePath('the root filesystem folder on the worker host').optional(),
  /**
   * An image as the root filesystem (instead of rootfs): `registry.example/team/tool:1.4`,
   * `...@sha256:<hex>`, `oci:/path[:tag]`, `oci-archive:/path.tar` or `docker-archive:/path.tar`,
   * as the worker's policy allows. Its Entrypoint/Cmd run when the step gives no args (args
   * replace Cmd), its Env goes under the step's, WorkingDir and User are the defaults.
   */
  image: imageReferenceSchema.optional(),
  /** `none` by default; `sandbox` or `host` only where the worker's policy allows it. */
  network: networkSchema.optional(),
  /** Names of secrets the worker resolves from its own store (never values). */
  secrets: secretsSchema.optional(),
};

/**
 * A spec's root and command: at most one of `image` and `rootfs`, and `args` unless an image
 * gives the command (`defaultImage`: the pipeline defaults' image, which a step's own rootfs
 * replaces). For the superRefine of each schema that spreads containerSpecShape.
 */
export function checkRootAndCommand(
  spec: { args?: unknown; image?: unknown; rootfs?: unknown },
  ctx: z.core.$RefinementCtx,
  path: PropertyKey[] = [],
  defaultImage?: string,
): void {
  if (spec.image !== undefined && spec.rootfs !== undefined) {
    ctx.addIssue({ code: 'custom', path: [...path, 'image'], message: 'give image or rootfs, not both' });
  }
  const image = spec.image ?? (spec.rootfs === undefined ? defaultImage : undefined);
  if (spec.args === undefined && image === undefined) {
    ctx.addIssue({
      code: 'custom',
      path: [...path, 'args'],
      message:
        'is required: give the command as a list, e.g. ["/bin/sh", "-c", "echo hi"] (only a step with an image may leave it out)',
    });
  }
}

/** What runs in the container, alone (no step settings). */
export const containerSpecSchema = mapping(
  containerSpecShape,
  'container settings: at least args (or an image)',
).superRefine((spec, ctx) => checkRootAndCommand(spec, ctx));

export type ContainerSpec = z.input<typeof containerSpecSchema>;
export type MountInput = z.input<typeof mountSchema>;
export type LimitsInput = z.input<typeof limitsSchema>;
export type Mount = z.output<typeof mountSchema>;
export type Limits = z.output<typeof limitsSchema>;
