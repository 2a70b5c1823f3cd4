// Builds app.js into a WebAssembly component of the `notifier` world (wit/v0.2.0).
// Usage: node build.mjs OUTPUT.wasm   (build.sh installs the pinned tools first)
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { componentize } from '@bytecodealliance/componentize-js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const out = resolve(process.argv[2] ?? resolve(repo, 'target/test-plugins/js-webhook.wasm'));

try {
  const { component } = await componentize({
    sourcePath: resolve(here, 'app.js'),
    witPath: resolve(repo, 'wit/v0.2.0'),
    worldName: 'notifier',
    // app.js calls wasi:http itself, so the engine's fetch() and its incoming-handler
    // export are left out. Stdio stays: without it the engine's errors become bare traps.
    disableFeatures: ['http', 'fetch-event'],
  });
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, component);
  console.log(`built ${out} (${component.byteLength} bytes)`);
} catch (err) {
  // componentize throws plain strings as well as Errors; say which file failed.
  console.error(`js-webhook: building ${out} failed:\n${err?.stack ?? err}`);
  process.exit(1);
}
