// Part of `npm run build`: writes dist/workflow-bundle.js, the workflow code a worker run from
// the compiled package serves without bundling at start (see src/worker/bundle.ts).
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeWorkflowBundle } from '../src/worker/bundle.js';
import { workflowBundleFileName } from '../src/worker/index.js';

const outFile = join(fileURLToPath(new URL('..', import.meta.url)), 'dist', workflowBundleFileName);
const { bytes } = await writeWorkflowBundle(outFile);
console.error(`workflow bundle: ${outFile} (${(bytes / 1024).toFixed(0)} KiB)`);
