import type { PipelineResult, PipelineStatusSnapshot, StepReport } from '../../workflows/types.js';

/** Plain text table: columns padded to the widest cell. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function lastLine(text: string): string {
  const line = text.trimEnd().split('\n').at(-1) ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

function elapsed(step: StepReport): string {
  return step.durationMs === null ? '' : `${(step.durationMs / 1000).toFixed(2)}s`;
}

function stepRow(step: StepReport): string[] {
  return [
    `${step.finally ? '(finally) ' : ''}${step.name}`,
    step.status,
    step.attempts ? String(step.attempts) : '',
    step.exitCode === null ? '' : `${step.exitCode}${step.signal ? ` ${step.signal}` : ''}`,
    elapsed(step),
    step.host ?? '',
    step.status === 'running'
      ? step.lastLine
        ? lastLine(step.lastLine)
        : step.pid
          ? `pid ${step.pid}`
          : ''
      : lastLine(step.stderrTail || step.stdoutTail || step.error || ''),
  ];
}

const header = ['step', 'status', 'attempt', 'exit', 'time', 'host', 'last line'];

export function statusTable(snapshot: PipelineStatusSnapshot | PipelineResult): string {
  return table(header, snapshot.steps.map(stepRow));
}

/** One line per step change, for logs and pipes (no terminal control codes). */
export function statusLines(
  previous: PipelineStatusSnapshot | undefined,
  next: PipelineStatusSnapshot,
): string[] {
  const before = new Map(previous?.steps.map((s) => [s.name, JSON.stringify([s.status, s.attempts, s.pid])]));
  return next.steps
    .filter((s) => before.get(s.name) !== JSON.stringify([s.status, s.attempts, s.pid]))
    .filter((s) => previous || s.status !== 'pending')
    .map(
      (s) =>
        `${new Date().toISOString()} ${s.name}: ${s.status}${s.attempts ? ` (attempt ${s.attempts})` : ''}${s.exitCode !== null ? ` exit ${s.exitCode}` : ''}${s.host ? ` on ${s.host}` : ''}`,
    );
}
