/**
 * What differs between the runsc builds this library supports (Debian's 0.0~20221219 and
 * current gVisor releases, see NOTES/README), read from `runsc --version` once per binary
 * instead of guessed. Only the differences the library acts on are here.
 */
import type { RuntimeFlavor } from './args.js';
import type { RuntimeVersion } from './types.js';

export interface RuntimeTraits {
  /** The build's release date as `YYYYMMDD`, when its version line carries one. */
  release?: string;
  /** The platform the build uses when `--platform` is not given (runsc only). */
  defaultPlatform?: 'ptrace' | 'systrap';
}

/** systrap became runsc's default platform in 2023-06 (gVisor e5f2478be). */
const systrapDefaultSince = '20230601';

/**
 * `runsc version 0.0~20221219.0` (Debian) and `runsc version release-20260905.0-go` (gVisor's
 * own label) both carry the date; builds without one (`VERSION_MISSING`) give undefined.
 */
export function releaseOf(versionLine: string): string | undefined {
  return /(?:^|[~\-\s])(20\d{6})(?:\.\d+)?(?:$|[-\s])/.exec(versionLine)?.[1];
}

export function traitsOf(version: RuntimeVersion, flavor: RuntimeFlavor = 'runsc'): RuntimeTraits {
  const release = releaseOf(version.version);
  if (flavor !== 'runsc') return release ? { release } : {};
  // A build without a date is a local build of the current tree: treat it as current.
  const current = release === undefined || release >= systrapDefaultSince;
  return {
    ...(release ? { release } : {}),
    defaultPlatform: current ? 'systrap' : 'ptrace',
  };
}

/** What `traitsFor` needs: a subset of `Runsc`, so this module does not import the client. */
export interface VersionedRuntime {
  readonly command: string;
  readonly flavor: RuntimeFlavor;
  readonly options: { readonly platform?: string };
  version(): Promise<RuntimeVersion>;
}

const cache = new Map<string, Promise<RuntimeTraits>>();

/** The traits of this runtime binary, probed once per command per process. */
export function traitsFor(runtime: VersionedRuntime): Promise<RuntimeTraits> {
  const key = `${runtime.flavor}\u0000${runtime.command}`;
  let traits = cache.get(key);
  if (!traits) {
    traits = runtime.version().then((version) => traitsOf(version, runtime.flavor));
    // A failed probe (binary missing) is not remembered: the next call asks again.
    traits.catch(() => cache.delete(key));
    cache.set(key, traits);
  }
  return traits;
}

/** The platform this client's sandboxes run on: the one it names, or the build's default. */
export async function runtimePlatform(runtime: VersionedRuntime): Promise<string | undefined> {
  return runtime.options.platform ?? (await traitsFor(runtime)).defaultPlatform;
}
