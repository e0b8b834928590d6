/**
 * A small default seccomp filter for steps under runc or crun (runsc has its own, far stricter
 * one around its Sentry, and ignores this). It allows everything except the system calls that
 * Docker's default profile (moby/profiles, `seccomp/default.json`) also keeps from containers
 * without capabilities: kernel modules and kexec, keyrings, mounts and namespace changes,
 * tracing, BPF and perf, clock and swap settings, and the raw handle and memory-policy calls
 * behind known escapes. Ours is a deny-list (Docker's is an allow-list): shorter to read, and
 * the step already runs with no capabilities and noNewPrivileges, which close most of the rest.
 */
export const deniedSyscalls = [
  'acct',
  'add_key',
  'bpf',
  'clock_adjtime',
  'clock_settime',
  'create_module',
  'delete_module',
  'finit_module',
  'fsconfig',
  'fsmount',
  'fsopen',
  'fspick',
  'get_kernel_syms',
  'get_mempolicy',
  'init_module',
  'ioperm',
  'iopl',
  'kcmp',
  'kexec_file_load',
  'kexec_load',
  'keyctl',
  'lookup_dcookie',
  'mbind',
  'mount',
  'mount_setattr',
  'move_mount',
  'move_pages',
  'name_to_handle_at',
  'nfsservctl',
  'open_by_handle_at',
  'open_tree',
  'perf_event_open',
  'pivot_root',
  'process_vm_readv',
  'process_vm_writev',
  'ptrace',
  'query_module',
  'quotactl',
  'reboot',
  'request_key',
  'set_mempolicy',
  'setns',
  'settimeofday',
  'swapoff',
  'swapon',
  'syslog',
  'umount',
  'umount2',
  'unshare',
  'uselib',
  'userfaultfd',
  'ustat',
  'vhangup',
] as const;

export interface SeccompProfile {
  defaultAction: string;
  architectures: string[];
  syscalls: { names: string[]; action: string; errnoRet: number }[];
}

const EPERM = 1;

export function defaultSeccompProfile(): SeccompProfile {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: [
      'SCMP_ARCH_X86_64',
      'SCMP_ARCH_X86',
      'SCMP_ARCH_X32',
      'SCMP_ARCH_AARCH64',
      'SCMP_ARCH_ARM',
    ],
    syscalls: [{ names: [...deniedSyscalls], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM }],
  };
}
