import { describe, expect, it } from 'vitest';
import { findReferences, resolveReferences } from '../../workflows/references.js';

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
});
