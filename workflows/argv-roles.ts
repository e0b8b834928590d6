/**
 * What each element of a step's `args` is to the program that reads it, as far as a reference
 * in it is concerned: plain data (substituted as it is, one argv element that no shell parses),
 * the script of a shell (`sh -c SCRIPT`: references are shell-quoted there), or code (a
 * `python3 -c` program, an interpreter's options, a program name: no reference may go there).
 * Decided from the pipeline's own text, never from results, so the validator and the workflow
 * agree before anything runs. Where it cannot tell, it says code: a refusal names the fix (env),
 * a wrong "data" would run a result.
 *
 * No imports: bundled into workflow code (see references.ts).
 */

export type ArgRole =
  /**
   * `mayBeOption`: the program may read the argument as an option (`--to-command=...` to tar),
   * so a result that starts it must not start with "-" (resolveArgs checks the value). False
   * for a shell script's positional parameters and after a literal `--`.
   */
  | { kind: 'data'; mayBeOption: boolean }
  | { kind: 'shell-script'; program: string }
  | { kind: 'code'; program: string; why: string };

const shells = new Set(['sh', 'bash', 'ash', 'dash', 'zsh', 'ksh', 'mksh', 'hush', 'rbash']);
/** Shell options followed by a value in the next argument (`-o pipefail`, bash's `-O extglob`). */
const shellValueLetters = new Set(['o', 'O']);
const shellValueLongOptions = new Set(['--rcfile', '--init-file']);
const shellFlagLongOptions = new Set([
  '--login',
  '--noprofile',
  '--norc',
  '--posix',
  '--restricted',
  '--verbose',
  '--noediting',
  '--help',
  '--version',
]);

/** Interpreters that take code as an option's value (`-c`, `-e`, `--eval`) before a script. */
const flagCode =
  /^(python[0-9.]*|pypy[0-9.]*|node|nodejs|deno|bun|perl[0-9.]*|ruby[0-9.]*|php[0-9.]*|lua[0-9.]*|luajit|tclsh[0-9.]*|wish|Rscript|R|julia|pwsh|powershell|osascript|elixir|erl|guile|racket)$/;
/** Programs whose first argument that is not an option is a program (awk's, sed's, jq's). */
const programFirst = /^(awk|gawk|mawk|nawk|sed|gsed|jq|gojq|yq)$/;
/**
 * Programs that run their arguments as a shell command line; shells whose quoting is not
 * POSIX sh's (fish and csh read escapes or `!` inside '...'), so that no argument of theirs can
 * be quoted as data, and yash and posh, treated the same way as they are rare here; and clients
 * whose arguments can run commands (sqlite3 `-cmd .shell`, psql `-c \\!`, mysql `-e system`).
 */
const allCode = new Set([
  'ssh',
  'watch',
  'eval',
  'fish',
  'csh',
  'tcsh',
  'nu',
  'xonsh',
  'elvish',
  'rc',
  'es',
  'yash',
  'posh',
  'sqlite3',
  'psql',
  'mysql',
]);
/** Programs that run a command named in their arguments. */
const wrappers = new Set([
  'env',
  'timeout',
  'nice',
  'nohup',
  'time',
  'stdbuf',
  'setsid',
  'xargs',
  'flock',
  'ionice',
  'taskset',
  'chrt',
  'chroot',
  'sudo',
  'doas',
  'unshare',
  'nsenter',
  'setpriv',
  'runuser',
  'su',
  'find',
  'strace',
  'ltrace',
  'tini',
  'dumb-init',
  'catatonit',
  'gosu',
  'su-exec',
  'chpst',
  'script',
  'command',
  'exec',
  'builtin',
]);

const data: ArgRole = { kind: 'data', mayBeOption: true };
const positional: ArgRole = { kind: 'data', mayBeOption: false };
const basename = (path: string) => path.slice(path.lastIndexOf('/') + 1);
const isOption = (arg: string) => arg.length > 1 && (arg.startsWith('-') || arg.startsWith('+'));
/** An argument that starts with a reference could start with anything, "-" included. */
const startsWithReference = (arg: string) => arg.startsWith('${');

export function argumentRoles(args: readonly string[]): ArgRole[] {
  // After a literal `--`, most programs read no more options.
  const end = args.indexOf('--', 1);
  const roles: ArgRole[] = args.map((_, i) => (end > 0 && i > end ? positional : data));
  if (args.length > 0) {
    roles[0] = { kind: 'code', program: basename(args[0] as string), why: 'names the program to run' };
    classify(args, 0, roles);
  }
  return roles;
}

/** Fills in the roles of the arguments of the program named at `start`. */
function classify(args: readonly string[], start: number, roles: ArgRole[]): void {
  const program = basename(args[start] as string);
  if (shells.has(program)) shell(args, start, roles, program);
  else if (flagCode.test(program)) interpreter(args, start, roles, program, false);
  else if (programFirst.test(program)) interpreter(args, start, roles, program, true);
  else if (allCode.has(program)) {
    for (let i = start + 1; i < args.length; i++) {
      roles[i] = { kind: 'code', program, why: `is part of the command line ${program} runs` };
    }
  } else if (program === 'busybox' && start + 1 < args.length) {
    roles[start + 1] = { kind: 'code', program, why: 'names the busybox program to run' };
    classify(args, start + 1, roles);
  } else if (wrappers.has(program)) wrapper(args, start, roles, program);
}

/**
 * `sh [options] -c SCRIPT [$0 [$1...]]`: the script is the first argument after the options;
 * what follows are its positional parameters (data). Without `-c` the first argument is a
 * script file (data too). An option this does not know might take the next argument as its
 * value, so that the script could be any later one: then every argument counts as code.
 */
function shell(args: readonly string[], start: number, roles: ArgRole[], program: string): void {
  const option: ArgRole = { kind: 'code', program, why: `is an option of ${program}, or its value` };
  let commandMode = false;
  let i = start + 1;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--' || arg === '-') {
      roles[i] = option;
      i++;
      break;
    }
    if (!isOption(arg)) break;
    roles[i] = option;
    if (arg.startsWith('--')) {
      if (shellValueLongOptions.has(arg)) roles[++i] = option;
      else if (!shellFlagLongOptions.has(arg)) {
        const why = `follows ${arg}, an option of ${program} unknown here, so it may be the script`;
        for (let j = i + 1; j < args.length; j++) roles[j] = { kind: 'code', program, why };
        return;
      }
      continue;
    }
    const letters = arg.slice(1);
    if (letters.includes('c')) commandMode = true;
    for (const letter of letters) if (shellValueLetters.has(letter)) roles[++i] = option;
  }
  for (let j = i; j < args.length; j++) roles[j] = positional;
  if (i >= args.length) return;
  if (startsWithReference(args[i] as string) && args[i - 1] !== '--') {
    roles[i] = { kind: 'code', program, why: `could be read as an option of ${program}` };
  } else if (commandMode) roles[i] = { kind: 'shell-script', program };
}

/**
 * An interpreter that takes code as an option's value (`python3 -c CODE`, `perl -ne CODE`,
 * `node --eval=CODE`): every option, and every argument right after one (it may be the option's
 * value), counts as code, up to the first argument that is neither: the script file, after which
 * come the script's own arguments (data). For awk, sed and jq that first argument is itself the
 * program.
 */
function interpreter(
  args: readonly string[],
  start: number,
  roles: ArgRole[],
  program: string,
  firstIsProgram: boolean,
): void {
  const option: ArgRole = {
    kind: 'code',
    program,
    why: `is an option of ${program} or an option's value, which may be code`,
  };
  let afterOption = false;
  let i = start + 1;
  for (; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      roles[i] = option;
      i++;
      break;
    }
    if (isOption(arg)) {
      roles[i] = option;
      afterOption = true;
    } else if (afterOption) {
      roles[i] = option;
      afterOption = false;
    } else break;
  }
  if (i >= args.length) return;
  if (firstIsProgram) roles[i] = { kind: 'code', program, why: `is the program ${program} runs` };
  else if (startsWithReference(args[i] as string) && args[i - 1] !== '--') {
    roles[i] = { kind: 'code', program, why: `could be read as an option of ${program}` };
  }
}

/**
 * `env`, `timeout`, `xargs`, `find -exec`...: a shell or interpreter named later in the
 * arguments is classified as above; every other argument up to it could be the command the
 * wrapper runs, so it counts as code (`NAME=value` excepted, as env reads it). With no such
 * program after it, all its arguments count as code.
 */
function wrapper(args: readonly string[], start: number, roles: ArgRole[], program: string): void {
  let inner = args.length;
  for (let i = start + 1; i < args.length; i++) {
    const name = basename(args[i] as string);
    if (
      shells.has(name) ||
      flagCode.test(name) ||
      programFirst.test(name) ||
      allCode.has(name) ||
      name === 'busybox'
    ) {
      inner = i;
      break;
    }
  }
  const why = `could name the command ${program} runs, or be its code`;
  for (let i = start + 1; i < inner; i++) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i] as string) || program !== 'env') {
      roles[i] = { kind: 'code', program, why };
    }
  }
  if (inner < args.length) {
    roles[inner] = { kind: 'code', program, why: 'names the program to run' };
    classify(args, inner, roles);
  }
}
