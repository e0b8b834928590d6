// Builds the busybox root filesystem the tests and the demo run steps in (once per machine).
import { ensureBusyboxRootfs } from '../src/rootfs.js';

const dir = await ensureBusyboxRootfs(process.argv[2]);
console.log(`[setup] busybox rootfs ready at ${dir}`);
