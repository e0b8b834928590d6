/**
 * An image's config (Entrypoint, Cmd, Env, WorkingDir, User) is untrusted input: whoever built
 * the image wrote it. It is read into a small checked record, bounded, with the same rules a
 * step's own fields meet, and applied as a container engine does: the step's `args` replace
 * Cmd (the Entrypoint stays), the step's env goes over the image's, WorkingDir is the default
 * `cwd`, User the default user. Nothing else of it (labels, annotations, volumes, ports,
 * stop signals) reaches the bundle or the runtime's settings.
 */
import { z } from 'zod';
import { type FieldProblem, ValidationError } from '../validation.js';

const envName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const maxArgs = 256;
const maxArgBytes = 32 * 1024;
const maxEnvEntries = 512;

const argList = z
  .array(z.string().max(maxArgBytes), { error: 'must be a list of strings' })
  .max(maxArgs, { error: `must have at most ${maxArgs} entries` })
  .nullish();

/** The fields of an OCI image config this library reads; everything else is ignored. */
const imageConfigSchema = z
  .object({
    config: z
      .object({
        Entrypoint: argList,
        Cmd: argList,
        Env: z
          .array(z.string().max(maxArgBytes))
          .max(maxEnvEntries, { error: `must have at most ${maxEnvEntries} entries` })
          .nullish(),
        WorkingDir: z.string().max(4096).nullish(),
        User: z.string().max(256).nullish(),
      })
      .loose()
      .nullish(),
  })
  .loose();

/** What a step takes from its image, checked. `user` is resolved by umoci against the image's /etc/passwd. */
export interface ImageDefaults {
  entrypoint: string[];
  cmd: string[];
  env: Record<string, string>;
  workingDir?: string;
  /** Set when the image names a User. */
  user?: { uid: number; gid: number };
}

export const imageDefaultsSchema = z.strictObject({
  entrypoint: z.array(z.string()),
  cmd: z.array(z.string()),
  env: z.record(z.string().regex(envName), z.string()),
  workingDir: z.string().optional(),
  user: z
    .strictObject({ uid: z.number().int().nonnegative(), gid: z.number().int().nonnegative() })
    .optional(),
});

/** The part of umoci's generated runtime config that holds the resolved user. */
const umociUserSchema = z
  .object({
    process: z
      .object({
        user: z.object({ uid: z.number().int().nonnegative(), gid: z.number().int().nonnegative() }).loose(),
      })
      .loose(),
  })
  .loose();

/**
 * Checks an image config (skopeo's `inspect --config`) and umoci's runtime config (for the
 * user it resolved). Throws a ValidationError whose fields start with `image.config`: the
 * image is what must be fixed, and no retry changes it.
 */
export function imageDefaultsFrom(imageConfig: unknown, umociRuntimeConfig: unknown): ImageDefaults {
  const parsed = imageConfigSchema.safeParse(imageConfig);
  if (!parsed.success) {
    throw new ValidationError(
      'image',
      parsed.error.issues.map((issue) => ({
        field: `image.config.${issue.path.slice(1).join('.')}`,
        message: issue.message,
      })),
    );
  }
  const config = parsed.data.config ?? {};
  const problems: FieldProblem[] = [];
  const env: Record<string, string> = {};
  for (const [index, entry] of (config.Env ?? []).entries()) {
    const eq = entry.indexOf('=');
    const name = eq === -1 ? entry : entry.slice(0, eq);
    if (eq === -1 || !envName.test(name)) {
      problems.push({
        field: `image.config.Env[${index}]`,
        message: 'must be NAME=value with a name of letters, digits and _: rebuild the image',
      });
      continue;
    }
    env[name] = entry.slice(eq + 1);
  }
  let workingDir: string | undefined;
  if (config.WorkingDir) {
    if (!config.WorkingDir.startsWith('/') || config.WorkingDir.split('/').includes('..')) {
      problems.push({
        field: 'image.config.WorkingDir',
        message: 'must be an absolute path without "..": rebuild the image, or give the step a cwd',
      });
    } else workingDir = config.WorkingDir;
  }
  let user: ImageDefaults['user'];
  if (config.User) {
    const resolved = umociUserSchema.safeParse(umociRuntimeConfig);
    if (!resolved.success) {
      problems.push({
        field: 'image.config.User',
        message: `${JSON.stringify(config.User)} could not be resolved in the image: give the step a user`,
      });
    } else user = { uid: resolved.data.process.user.uid, gid: resolved.data.process.user.gid };
  }
  if (problems.length > 0) throw new ValidationError('image', problems);
  return {
    entrypoint: config.Entrypoint ?? [],
    cmd: config.Cmd ?? [],
    env,
    ...(workingDir ? { workingDir } : {}),
    ...(user ? { user } : {}),
  };
}

/** A step's own fields over its image's defaults, as a container engine applies them. */
export function applyImageDefaults(
  step: { args?: string[]; cwd?: string; user?: { uid: number; gid: number } },
  image: ImageDefaults,
): { args: string[]; cwd?: string; user?: { uid: number; gid: number }; env: Record<string, string> } {
  // `args` replace Cmd, as `docker run IMAGE ARGS...` does; the Entrypoint stays in front.
  const args = step.args?.length ? [...image.entrypoint, ...step.args] : [...image.entrypoint, ...image.cmd];
  if (args.length === 0) {
    throw new ValidationError('step', [
      {
        field: 'args',
        message: 'the image names no Entrypoint or Cmd: give the step args, e.g. ["/bin/sh", "-c", "..."]',
      },
    ]);
  }
  const cwd = step.cwd ?? image.workingDir;
  const user = step.user ?? image.user;
  return { args, ...(cwd ? { cwd } : {}), ...(user ? { user } : {}), env: image.env };
}
