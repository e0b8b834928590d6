/** Every chaos scenario, in the order `npm run chaos` runs them. */
import type { Scenario } from '../scenario.js';
import { bigOutput } from './big-output.js';
import { cancelStorm } from './cancel-storm.js';
import { forkBomb } from './fork-bomb.js';
import { forkMany } from './fork-many.js';
import { hangingRuntime } from './hanging-runtime.js';
import { rootfsVanishes } from './rootfs-vanishes.js';
import { serverRestart } from './server-restart.js';
import { tmpfsFull } from './tmpfs-full.js';
import { twoHosts } from './two-hosts.js';
import { workerKill } from './worker-kill.js';

export const allScenarios: readonly Scenario[] = [
  workerKill,
  twoHosts,
  serverRestart,
  hangingRuntime,
  bigOutput,
  forkMany,
  forkBomb,
  tmpfsFull,
  rootfsVanishes,
  cancelStorm,
];
