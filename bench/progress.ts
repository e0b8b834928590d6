/** Progress lines go to stderr, so that `--json` leaves stdout to the one JSON object. */
const startedAt = performance.now();

export function say(message: string): void {
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}
