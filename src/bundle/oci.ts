import { defaultSeccompProfile, type SeccompProfile } from './seccomp.js';
import type { BundleSpec } from './spec.js';

/** The parts of the OCI runtime spec that we write; enough for runsc, runc and crun. */
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number; additionalGids?: number[] };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'inheritable' | 'permitted' | 'ambient', string[]>;
    rlimits: { type: string; soft: number; hard: number }[];
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  annotations: Record<string, string>;
  linux: {
    namespaces: { type: string }[];
    uidMappings?: { containerID: number; hostID: number; size: number }[];
    gidMappings?: { containerID: number; hostID: number; size: number }[];
    seccomp?: SeccompProfile;
    resources: {
      memory?: { limit: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
    cgroupsPath?: string;
    maskedPaths: string[];
    readonlyPaths: string[];
  };
}

/** A step's PATH when its env gives none. */
export const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** What every bundle mounts over the rootfs, beside the step's own mounts and /out. */
export const sandboxMountPoints = ['/proc', '/dev', '/sys', '/tmp'] as const;
const cpuPeriodMicros = 100_000;

/** Pure: one run's OCI config from a validated spec. No capabilities, no new privileges. */
export function toOciConfig(spec: BundleSpec): OciConfig {
  const env = { PATH: defaultPath, HOME: '/tmp', ...spec.env };
  const resources: OciConfig['linux']['resources'] = {};
  if (spec.limits.memoryBytes !== undefined) resources.memory = { limit: spec.limits.memoryBytes };
  if (spec.limits.cpus !== undefined) {
    resources.cpu = { quota: Math.round(spec.limits.cpus * cpuPeriodMicros), period: cpuPeriodMicros };
  }
  if (spec.limits.pids !== undefined) resources.pids = { limit: spec.limits.pids };

  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: {
        uid: spec.user.uid,
        gid: spec.user.gid,
        ...(spec.user.additionalGids ? { additionalGids: spec.user.additionalGids } : {}),
      },
      args: [...spec.args],
      env: Object.entries(env).map(([name, value]) => `${name}=${value}`),
      cwd: spec.cwd,
      capabilities: { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] },
      rlimits: spec.rlimits.map((r) => ({ ...r })),
      noNewPrivileges: true,
    },
    root: { path: spec.rootfs, readonly: !spec.writableRoot },
    hostname: spec.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/dev',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
      },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      {
        destination: '/tmp',
        type: 'tmpfs',
        source: 'tmpfs',
        options: ['nosuid', 'nodev', 'mode=1777', `size=${spec.tmpfsBytes}`],
      },
      ...spec.mounts.map((mount) => ({
        destination: mount.destination,
        type: 'bind',
        source: mount.source,
        // A host file with a set-id bit or a device node must not become one inside the step.
        options: ['rbind', 'nosuid', 'nodev', mount.readOnly ? 'ro' : 'rw'],
      })),
    ],
    annotations: { ...spec.annotations },
    linux: {
      namespaces: sandboxNamespaces.map((type) => ({ type })),
      resources,
      ...(spec.cgroupsPath ? { cgroupsPath: spec.cgroupsPath } : {}),
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      // Replaces the masked paths above with runc's longer list, and adds seccomp (and a user
      // namespace when asked); the read-only paths stay as they are.
      ...(spec.hostKernel ? hostKernelHardening(spec.hostKernel) : {}),
    },
  };
}

/** The namespaces every step gets of its own. */
const sandboxNamespaces = ['pid', 'ipc', 'uts', 'mount', 'network'];

/**
 * runc's own defaults (`runc spec`, libcontainer/specconv), for runtimes whose steps talk to the
 * host's kernel directly: hide the /proc and /sys files that leak host state or control it.
 */
const hostKernelMaskedPaths = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

function hostKernelHardening(options: NonNullable<BundleSpec['hostKernel']>): Partial<OciConfig['linux']> {
  const userns = options.userNamespace;
  const mapping = userns ? [{ containerID: 0, hostID: userns.hostId, size: userns.size }] : undefined;
  return {
    maskedPaths: hostKernelMaskedPaths,
    seccomp: defaultSeccompProfile(),
    ...(mapping
      ? {
          namespaces: [...sandboxNamespaces, 'user'].map((type) => ({ type })),
          uidMappings: mapping,
          gidMappings: mapping,
        }
      : {}),
  };
}
