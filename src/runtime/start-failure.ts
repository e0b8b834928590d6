/**
 * runsc's own words when a container cannot start because of its spec: the program is missing
 * or not executable, the working folder cannot be made. Read from runsc's log (written by
 * runsc, never by the step, which has not run yet), the same on the 2022 build and the current
 * one (measured: `failed to load /no/such: no such file or directory`, `error finding
 * executable "x" in PATH [...]`, `failed to create process working directory "/x": ...`). The
 * activity checks these before starting (src/host/step-start-checks.ts); this catches what that
 * check leaves to runsc (a program under a mount) and words it the same way.
 */
import type { FieldProblem } from '../validation.js';

const patterns: [RegExp, (match: RegExpExecArray) => FieldProblem][] = [
  [
    /creating process: failed to load ([^:]+): (.+)$/m,
    (m) => ({
      field: 'args[0]',
      message: `runsc cannot start ${m[1]}: ${m[2]}: name a program that is there`,
    }),
  ],
  [
    /error finding executable "([^"]*)" in PATH \[([^\]]*)\]: (.+)$/m,
    (m) => ({
      field: 'args[0]',
      message: `${JSON.stringify(m[1])} is not in any folder of PATH (${m[2]}): ${m[3]}: give its absolute path, or set env.PATH`,
    }),
  ],
  [
    /failed to create process working directory "([^"]*)": (.+)$/m,
    (m) => ({ field: 'cwd', message: `runsc cannot use ${m[1]} as the working folder: ${m[2]}` }),
  ],
];

/** The field at fault when runsc's error says the spec cannot start; undefined otherwise. */
export function startFailureProblem(runtimeError: string): FieldProblem | undefined {
  for (const [pattern, problem] of patterns) {
    const match = pattern.exec(runtimeError);
    if (match) return problem(match);
  }
  return undefined;
}
