/** Path rules of the policy, on real paths (links resolved), so a symlink cannot step outside. */
import { realpath } from 'node:fs/promises';
import { posix } from 'node:path';

/** True when `path` is `base` or inside it. */
export function isWithin(path: string, base: string): boolean {
  if (base === '/') return true;
  return path === base || path.startsWith(`${base}/`);
}

/**
 * True when mounting `source` exposes `guarded`, or part of it: one holds the other. (`/` holds
 * everything, so it is exposed only by mounting `/` itself.)
 */
export function exposes(source: string, guarded: string): boolean {
  if (guarded === '/') return source === '/';
  return isWithin(source, guarded) || isWithin(guarded, source);
}

/** The real path, or undefined when it does not exist. */
export async function realPathOf(path: string): Promise<string | undefined> {
  return realpath(path).catch(() => undefined);
}

/** The real paths of the given ones; one that does not exist (yet) is kept as written, normalised. */
export async function realPaths(paths: readonly string[]): Promise<string[]> {
  return Promise.all(paths.map(async (path) => (await realPathOf(path)) ?? posix.normalize(path)));
}

/**
 * Like realPaths, but a path that does not exist (yet) is resolved through its nearest existing
 * parent: `/srv/link/state` with `/srv/link -> /data` is `/data/state`.
 */
export async function realPathsOfMaybeMissing(paths: readonly string[]): Promise<string[]> {
  return Promise.all(
    paths.map(async (path) => {
      let head = posix.normalize(path);
      const tail: string[] = [];
      for (;;) {
        const real = await realPathOf(head);
        if (real !== undefined) return tail.length ? posix.join(real, ...tail) : real;
        if (head === '/') return posix.normalize(path);
        tail.unshift(posix.basename(head));
        head = posix.dirname(head);
      }
    }),
  );
}

/** Host paths no step may bind unless the operator names that exact path. */
export const alwaysProtected = ['/', '/proc', '/sys', '/dev', '/run'] as const;
