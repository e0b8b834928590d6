/**
 * `npm run bench [-- --json] [--runs N] [--quick] [--only a,b]`: starts bench/main.ts in a
 * process group of its own and passes Ctrl-C (SIGINT) and SIGTERM on to it.
 *
 * Why not run the bench right here: Ctrl-C reaches every process of the terminal's group, so
 * each `runsc run` would die of it and leave its container `stopped` (runsc does not forward
 * signals), and tsx's launcher SIGKILLs a script that does not acknowledge a signal within
 * 30 ms, which a busy bench cannot promise. Detached, the bench receives only the signal
 * forwarded here and stops its own children in order; if this process is killed anyway, the
 * bench sees its IPC channel close and stops too.
 */
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const bench = spawn(process.execPath, ['--import', 'tsx', main, ...process.argv.slice(2)], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  detached: true,
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => bench.kill(signal));
}
bench.on('exit', (code, signal) => process.exit(code ?? 128 + (signal ? constants.signals[signal] : 0)));
