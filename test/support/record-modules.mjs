// Preloaded with `node --import` by test/unit/light-imports.test.ts: records every module the
// process loads, ESM (through a resolve hook) and CommonJS (the require cache, native addons
// included), one per line into $TRS_RECORD_MODULES_FILE when the process exits.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';

const file = process.env.TRS_RECORD_MODULES_FILE;
if (!file) throw new Error('record-modules.mjs needs TRS_RECORD_MODULES_FILE');
register('./record-modules-hooks.mjs', import.meta.url, { data: { file } });
const require = createRequire(import.meta.url);
process.on('exit', () => {
  const loaded = Object.keys(require.cache);
  appendFileSync(file, loaded.length ? `${loaded.join('\n')}\n` : '');
});
