import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { PipelineError, parsePipelineFile } from '../../src/pipeline/index.js';
import {
  argumentProblems,
  findReferences,
  resolveArgs,
  resolveData,
  resolveReferences,
  shellQuote,
} from '../../workflows/references.js';

const results = {
  build: {
    exitCode: 0,
    result: { version: '1.2.3', files: ['a.txt', 'b.txt'], meta: { size: 42, ok: true, none: null } },
  },
  flaky: { exitCode: 3 },
  killed: { exitCode: null },
  texty: { exitCode: 0, result: 'plain text' },
};

describe('findReferences', () => {
  it('finds each reference with its step and path', () => {
    expect(
      findReferences('${steps.build.exitCode} ${steps.build.result} ${steps.build.result.meta.size}'),
    ).toEqual({
      references: [
        { step: 'build', path: ['exitCode'] },
        { step: 'build', path: ['result'] },
        { step: 'build', path: ['result', 'meta', 'size'] },
      ],
      errors: [],
    });
  });

  it.each([
    ['$$ escapes', 'cost $$5 and $${HOME}'],
    ['a lone $ before a name', 'echo $HOME $1'],
    ['a $ at the end', 'price in $'],
  ])('finds no reference in %s', (_, text) => {
    expect(findReferences(text)).toEqual({ references: [], errors: [] });
  });

  it.each([
    ['an empty step name', 'x ${steps.}', 'malformed reference at character 3'],
    ['a name that is not a step', '${foo}', 'malformed reference at character 1'],
    ['a path after exitCode', '${steps.a.exitCode.x}', 'malformed reference'],
    ['an unknown field', '${steps.a.stdout}', 'malformed reference'],
    ['a missing "}"', 'ok ${steps.a.result', 'without a closing "}" at character 4'],
  ])('reports %s', (_, text, message) => {
    const found = findReferences(text);
    expect(found.references).toEqual([]);
    expect(found.errors).toHaveLength(1);
    expect(found.errors[0]).toContain(message);
  });
});

describe('resolveReferences', () => {
  it.each([
    ['an exit code', 'code=${steps.flaky.exitCode}', 'code=3'],
    ['a nested value', 'v${steps.build.result.version}', 'v1.2.3'],
    ['an array item by index', '${steps.build.result.files.1}', 'b.txt'],
    ['a number', '${steps.build.result.meta.size}', '42'],
    ['a boolean', '${steps.build.result.meta.ok}', 'true'],
    ['an object, as JSON', '${steps.build.result.meta}', '{"size":42,"ok":true,"none":null}'],
    ['an array, as JSON', '${steps.build.result.files}', '["a.txt","b.txt"]'],
    ['a string result as it is', '${steps.texty.result}', 'plain text'],
    ['$$ as a literal $', 'cost $$5, shell $${HOME}', 'cost $5, shell ${HOME}'],
    ['a lone $ untouched', 'echo $HOME', 'echo $HOME'],
    ['several references in one string', '${steps.build.exitCode}/${steps.flaky.exitCode}', '0/3'],
  ])('substitutes %s', (_, text, expected) => {
    expect(resolveReferences(text, results)).toBe(expected);
  });

  it.each([
    ['a step that did not run', '[${steps.deploy.exitCode}]'],
    ['a step without result', '[${steps.flaky.result}]'],
    ['a missing path', '[${steps.build.result.nothing.here}]'],
    ['a path through a string', '[${steps.build.result.version.length}]'],
    ['a null value', '[${steps.build.result.meta.none}]'],
    ['a null exit code (killed by a signal)', '[${steps.killed.exitCode}]'],
    ['a prototype property', '[${steps.build.result.constructor}]'],
  ])('gives an empty string for %s', (_, text) => {
    expect(resolveReferences(text, results)).toBe('[]');
  });

  it('keeps a malformed reference as written rather than failing the workflow', () => {
    expect(resolveReferences('a ${foo} b ${steps.x', results)).toBe('a ${foo} b ${steps.x');
  });

  it('keeps ${raw:...} as written, as it did before raw references existed', () => {
    // Pipelines started before the patch resolve this way (workflows/pipeline.ts).
    expect(resolveReferences('${raw:steps.build.result.version}', results)).toBe(
      '${raw:steps.build.result.version}',
    );
  });
});

/** Values a hostile step could write as its result, each meant to break out of a shell word. */
const hostile = [
  '1; echo INJECTED',
  "it's",
  "'; echo INJECTED; '",
  '"; echo INJECTED; "',
  '$(echo INJECTED)',
  '`echo INJECTED`',
  'a\nb\\',
  'line\necho INJECTED',
  '\\',
  '*',
  '${HOME} $0 $1',
  '',
];
const hostileResults = (value: string) => ({ a: { exitCode: 0, result: { v: value } } });

/** Runs resolved args on this machine's own shells (data must come out as it went in). */
async function stdoutOf(args: string[]): Promise<string> {
  const [program, ...rest] = args;
  return (await execa(program as string, rest)).stdout;
}

describe('references in a shell script', () => {
  it.each(hostile.map((v) => [JSON.stringify(v), v]))(
    '%s comes out of sh and bash as one word',
    async (_, v) => {
      for (const shell of ['/bin/sh', '/bin/bash', '/bin/busybox']) {
        const prefix = shell === '/bin/busybox' ? [shell, 'sh'] : [shell];
        const resolved = resolveArgs(
          [
            ...prefix,
            '-c',
            'printf "[%s]" ${steps.a.result.v}; x=${steps.a.result.v}; printf "(%s)" "$(printf %s "$x")"',
          ],
          hostileResults(v),
        );
        if (!('args' in resolved)) throw new Error(resolved.problem.message);
        expect(await stdoutOf(resolved.args)).toBe(`[${v}](${v})`);
      }
    },
  );

  it("quotes with POSIX single quotes, each ' written '\\''", () => {
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    expect(shellQuote('')).toBe("''");
  });

  it.each<[string, string[], string]>([
    ['sh -c', ['/bin/sh', '-c', 'echo ${steps.a.result.v}'], "echo '1; echo INJECTED'"],
    ['combined flags', ['/bin/sh', '-ec', 'echo ${steps.a.result.v}'], "echo '1; echo INJECTED'"],
    [
      'bash -o pipefail -c',
      ['/bin/bash', '-o', 'pipefail', '-c', 'f ${steps.a.result.v}'],
      "f '1; echo INJECTED'",
    ],
    ['busybox sh -c', ['/bin/busybox', 'sh', '-c', 'f ${steps.a.result.v}'], "f '1; echo INJECTED'"],
    ['env before sh', ['/usr/bin/env', 'A=1', 'sh', '-c', 'f ${steps.a.result.v}'], "f '1; echo INJECTED'"],
    ['timeout before bash', ['timeout', '5', 'bash', '-c', 'f ${steps.a.result.v}'], "f '1; echo INJECTED'"],
    ['inside $( )', ['/bin/sh', '-c', 'f "$(g ${steps.a.result.v})"'], `f "$(g '1; echo INJECTED')"`],
    ['glued to text', ['/bin/sh', '-c', 'f --v=${steps.a.result.v}x'], "f --v='1; echo INJECTED'x"],
    ['an exit code, as it is', ['/bin/sh', '-c', 'echo "code ${steps.a.exitCode}"'], 'echo "code 0"'],
  ])('%s: the reference is one shell word', (_, args, script) => {
    const resolved = resolveArgs(args, hostileResults('1; echo INJECTED'));
    expect(resolved).toEqual({ args: [...args.slice(0, -1), script] });
  });

  it('leaves positional parameters after the script as they are: they are data', () => {
    const args = ['/bin/sh', '-c', 'echo "$1"', 'sh', '${steps.a.result.v}'];
    expect(resolveArgs(args, hostileResults('1; echo INJECTED'))).toEqual({
      args: ['/bin/sh', '-c', 'echo "$1"', 'sh', '1; echo INJECTED'],
    });
  });
});

describe('where a reference may not stand', () => {
  it.each<[string, string[], number, string]>([
    // Inside a script, where a quoted word is not one word
    [
      'double quotes',
      ['/bin/sh', '-c', 'echo "got ${steps.a.result.v}"'],
      2,
      'inside "..." quotes in the sh script',
    ],
    ['single quotes', ['/bin/sh', '-c', "echo 'got ${steps.a.result.v}'"], 2, "inside '...' quotes"],
    [
      'backquotes',
      ['/bin/sh', '-c', 'echo `f ${steps.a.result.v}`'],
      2,
      'inside a `...` command substitution',
    ],
    [
      '$(( ))',
      ['/bin/bash', '-c', 'echo $((${steps.a.result.v} + 1))'],
      2,
      'inside an arithmetic expression',
    ],
    ['(( ))', ['/bin/bash', '-c', '(( x = ${steps.a.result.v} ))'], 2, 'inside an arithmetic expression'],
    ['${ }', ['/bin/sh', '-c', 'echo $${X:-${steps.a.result.v}}'], 2, 'inside a ${...} expansion'],
    [
      'an array subscript',
      ['/bin/bash', '-c', 'a[${steps.a.result.v}]=1'],
      2,
      'array subscript as arithmetic',
    ],
    ['$[ ]', ['/bin/bash', '-c', 'echo $[${steps.a.result.v}]'], 2, 'array subscript as arithmetic'],
    ['a comment', ['/bin/sh', '-c', 'true # ${steps.a.result.v}'], 2, 'inside a comment'],
    [
      'a here document',
      ['/bin/sh', '-c', 'cat <<EOF\n${steps.a.result.v}\nEOF'],
      2,
      'inside a here document',
    ],
    ['after a backslash', ['/bin/sh', '-c', 'echo \\${steps.a.result.v}'], 2, 'right after a backslash'],
    ['after a $', ['/bin/bash', '-c', 'echo $$${steps.a.result.v}'], 2, 'right after a "$"'],
    [
      'after raw text',
      ['/bin/sh', '-c', 'f ${raw:steps.a.result.v} ${steps.a.result.v}'],
      2,
      'after a ${raw:...}',
    ],
    // Code
    ['python -c', ['/usr/bin/python3', '-c', 'print("${steps.a.result.v}")'], 2, 'is an option of python3'],
    ['perl -ne', ['perl', '-ne', 'print "${steps.a.result.v}"'], 2, 'is an option of perl'],
    ['node --eval=', ['node', '--eval=${steps.a.result.v}'], 1, 'is an option of node'],
    ['an awk program', ['awk', '{ print "${steps.a.result.v}" }'], 1, 'is the program awk runs'],
    ['the program name', ['${steps.a.result.v}', '-c', 'x'], 0, 'names the program to run'],
    ['a busybox applet', ['busybox', '${steps.a.result.v}'], 1, 'names the busybox program'],
    ['a wrapped command', ['/usr/bin/env', '${steps.a.result.v}', 'x'], 1, 'could name the command env runs'],
    ['ssh', ['ssh', 'host', 'echo ${steps.a.result.v}'], 2, 'is part of the command line ssh runs'],
    [
      'fish -c',
      ['/usr/bin/fish', '-c', 'echo ${steps.a.result.v}'],
      2,
      'is part of the command line fish runs',
    ],
    ['csh -c', ['csh', '-c', "echo '${steps.a.result.v}'"], 2, 'is part of the command line csh runs'],
    ['tcsh -fc', ['tcsh', '-fc', 'echo ${steps.a.result.v}'], 2, 'is part of the command line tcsh runs'],
    ['nu -c', ['nu', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line nu runs'],
    ['xonsh -c', ['xonsh', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line xonsh runs'],
    ['elvish -c', ['elvish', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line elvish runs'],
    ['rc -c', ['rc', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line rc runs'],
    ['es -c', ['es', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line es runs'],
    ['yash -c', ['yash', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line yash runs'],
    ['posh -c', ['posh', '-c', 'echo ${steps.a.result.v}'], 2, 'is part of the command line posh runs'],
    [
      'a fish script file',
      ['fish', '/app/${steps.a.result.v}.fish'],
      1,
      'is part of the command line fish runs',
    ],
    [
      'csh through env',
      ['env', 'csh', '-c', 'echo ${steps.a.result.v}'],
      3,
      'is part of the command line csh runs',
    ],
    ['sqlite3', ['sqlite3', '/in/db', '${steps.a.result.v}'], 2, 'is part of the command line sqlite3 runs'],
    ['sqlite3 -cmd', ['sqlite3', '-cmd', '.shell ${steps.a.result.v}', '/in/db'], 2, 'sqlite3 runs'],
    ['psql -c', ['psql', '-c', 'select ${steps.a.result.v}'], 2, 'is part of the command line psql runs'],
    ['mysql -e', ['mysql', '-e', 'select ${steps.a.result.v}'], 2, 'is part of the command line mysql runs'],
    [
      'after an unknown shell option',
      ['bash', '--odd', 'x', '-c', 'f ${steps.a.result.v}'],
      4,
      'unknown here',
    ],
  ])('%s', (_, args, index, message) => {
    const problems = argumentProblems(args);
    expect(problems).toEqual([{ index, message: expect.stringContaining(message) }]);
    // The workflow refuses exactly what the validator does, with the same message.
    expect(resolveArgs(args, hostileResults('x'))).toEqual({ problem: problems[0] });
    // Every refusal points at the fix.
    expect(problems[0]?.message).toContain('env: { VALUE: "${steps.a.result.v}" }');
  });

  it.each<[string, string[]]>([
    ['a plain argument', ['/bin/echo', 'v=${steps.a.result.v}']],
    ["an interpreter's script arguments", ['python3', '/app/run.py', '--v', '${steps.a.result.v}']],
    ['an exit code in code', ['python3', '-c', 'exit(${steps.a.exitCode})']],
    ['a raw reference in code', ['python3', '-c', 'print(${raw:steps.a.result.v})']],
    ['an env assignment of env', ['env', 'V=${steps.a.result.v}', '/bin/sh', '-c', 'echo "$V"']],
  ])('allows %s, substituted as it is', (_, args) => {
    expect(argumentProblems(args)).toEqual([]);
    const resolved = resolveArgs(args, { a: { exitCode: 3, result: { v: '1; x' } } });
    expect(resolved).toEqual({
      args: args.map((arg) =>
        arg.replace(/\$\{(raw:)?steps\.a\.result\.v\}/, '1; x').replace('${steps.a.exitCode}', '3'),
      ),
    });
  });
});

describe('a result that starts an argument with "-"', () => {
  const dash = hostileResults('--to-command=sh -c "echo INJECTED"');

  it('is refused where the program may read it as an option, and the step runs nothing', () => {
    const resolved = resolveArgs(['/bin/tar', 'xf', '/in/a.tar', '${steps.a.result.v}'], dash);
    expect(resolved).toEqual({
      problem: { index: 3, message: expect.stringContaining('/bin/tar could read it as an option') },
    });
  });

  it.each<[string, string[], string]>([
    ['after a literal "--"', ['/bin/tar', 'xf', '/in/a.tar', '--', '${steps.a.result.v}'], ''],
    ['after text in the same argument', ['/bin/echo', 'v=${steps.a.result.v}'], 'v='],
    [
      "as a shell script's positional parameter",
      ['/bin/sh', '-c', 'echo "$1"', 'sh', '${steps.a.result.v}'],
      '',
    ],
  ])('is data %s', (_, args, prefix) => {
    const resolved = resolveArgs(args, dash);
    expect(resolved).toEqual({ args: [...args.slice(0, -1), `${prefix}--to-command=sh -c "echo INJECTED"`] });
  });

  it("is refused by the validator where it would be a shell's or an interpreter's option", () => {
    expect(argumentProblems(['/bin/sh', '${steps.a.result.v}', 'x'])).toEqual([
      { index: 1, message: expect.stringContaining('could be read as an option of sh') },
    ]);
    expect(argumentProblems(['python3', '${steps.a.result.v}'])).toEqual([
      { index: 1, message: expect.stringContaining('could be read as an option of python3') },
    ]);
  });
});

describe('resolveData (env values and cwd)', () => {
  it('substitutes results and raw references as they are', () => {
    expect(resolveData('${steps.a.result.v}|${raw:steps.a.result.v}', hostileResults('1; echo x'))).toBe(
      '1; echo x|1; echo x',
    );
  });
});

describe('the validator', () => {
  const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/pipelines/${name}`, import.meta.url));
  const problemsOf = (name: string) =>
    parsePipelineFile(fixture(name)).then(
      () => [],
      (error: unknown) => {
        if (error instanceof PipelineError) return error.problems;
        throw error;
      },
    );

  it('accepts every way a result goes in as data', async () => {
    expect(await problemsOf('good/references-as-data.yaml')).toEqual([]);
  });

  it.each([
    ['bad/ref-in-shell-quotes.yaml', 'inside "..." quotes in the sh script'],
    ['bad/ref-in-python-code.yaml', "a step's result must never become code"],
  ])('refuses %s, naming the argument, its line and the fix', async (name, message) => {
    expect(await problemsOf(name)).toEqual([
      { field: 'steps[1].args[2]', line: 6, message: expect.stringContaining(message) },
    ]);
  });
});
