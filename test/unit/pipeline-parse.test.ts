import { describe, expect, it } from 'vitest';
import { PipelineError, parsePipeline } from '../../src/pipeline/index.js';
import { ValidationError } from '../../src/validation.js';

function errorOf(text: string, options: Parameters<typeof parsePipeline>[1] = {}): PipelineError {
  try {
    parsePipeline(text, options);
  } catch (error) {
    if (error instanceof PipelineError) return error;
    throw error;
  }
  throw new Error('the pipeline was accepted');
}

const secret = 'hunter2-do-not-print';

describe('parsePipeline', () => {
  it('lists every problem of the file at once, schema and cross-step rules together', () => {
    const error = errorOf(
      [
        'name: p',
        'colour: blue',
        'steps:',
        '  - name: a',
        '    args: []',
        '    timeout: soon',
        '  - name: a',
        "    args: [/bin/echo, '${steps.later.result}']",
      ].join('\n'),
    );
    expect(error.problems.map((p) => [p.field, p.line])).toEqual([
      ['(root)', 2],
      ['steps[0].args', 5],
      ['steps[0].timeout', 6],
      ['steps[1].name', 7],
      ['steps[1].args[1]', 8],
    ]);
  });

  it('throws a ValidationError whose message lists each problem with its line', () => {
    const error = errorOf('name: p\nsteps:\n  - name: a\n    args: []\n', { filename: 'ci.yaml' });
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.what).toBe('pipeline ci.yaml');
    expect(error.message).toBe(
      'invalid pipeline ci.yaml:\n  - steps[0].args (line 4): must name at least the program to run, e.g. ["/bin/true"]',
    );
  });

  it('picks JSON from the .json extension, so JSON syntax errors read as such', () => {
    expect(errorOf('name: p\n', { filename: 'ci.json' }).problems[0]?.message).toContain('is not valid JSON');
  });

  it('lets the format option override the extension', () => {
    const text = 'name: p\nsteps:\n  - name: a\n    args: [/bin/true]\n';
    expect(parsePipeline(text, { filename: 'ci.json', format: 'yaml' }).name).toBe('p');
  });

  it('reads YAML when nothing says otherwise (JSON text included)', () => {
    expect(
      parsePipeline('{"name": "p", "steps": [{"name": "a", "args": ["/bin/true"]}]}').steps,
    ).toHaveLength(1);
  });

  it.each([
    [
      'a value of the wrong type',
      `name: p\nsteps:\n  - name: a\n    args: [/bin/true]\n    env: { TOKEN: [${secret}] }\n`,
      {},
    ],
    [
      'a malformed reference',
      `name: p\nsteps:\n  - name: a\n    args: [/bin/true]\n    env: { TOKEN: "\${${secret}}" }\n`,
      {},
    ],
    // yaml's own message would end with the bad block scalar header, secret included.
    [
      'a YAML syntax error',
      `name: p\nsteps:\n  - name: a\n    env:\n      TOKEN: |${secret}\n        x\n`,
      {},
    ],
    [
      'a JSON syntax error',
      // V8's own message would quote the text around the unexpected "}".
      `{"name": "p", "steps": [{"name": "a", "env": {"TOKEN": "${secret}", "X": }}]}`,
      { format: 'json' as const },
    ],
  ])('never shows environment values, even with %s', (_, text, options) => {
    const error = errorOf(text, options);
    expect(error.problems.length).toBeGreaterThan(0);
    expect(error.message).not.toContain('hunter2');
  });
});
