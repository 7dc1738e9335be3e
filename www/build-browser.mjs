// Builds the browser module's shipping folder, target/browser (run by `make browser` after the
// wasm core's build in target/wasm-web):
//   vitrine.<hash>.mjs (+ .map)  the ES module, with the wasm core's JS glue bundled in
//   vitrine-overlay.<hash>.mjs   the debug overlay, which the module imports under ?vt-debug only
//   vitrine_core.<hash>.wasm     the wasm core
//   vitrine.d.ts                 the module's types
// Names carry their content's hash, so a CDN may cache them for a year. The loader
// (vitrine.js) and the configuration (config.<hash>.bin) are written into the same folder by
// `vitrine compile site.json --browser target/browser`; docs/browser.md has the deploy steps.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const www = dirname(fileURLToPath(import.meta.url));
const wasmDir = join(www, "../target/wasm-web");
const out = process.argv[2] || join(www, "../target/browser");
const hash = (bytes) => createHash("sha256").update(bytes).digest("hex").slice(0, 10);

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const wasm = readFileSync(join(wasmDir, "vitrine_core_bg.wasm"));
const wasmName = `vitrine_core.${hash(wasm)}.wasm`;
writeFileSync(join(out, wasmName), wasm);

// The module and, split off, the debug overlay it imports only under ?vt-debug; esbuild names
// each by its content's hash (the module's hash covers the overlay's name).
await build({
  entryPoints: [join(www, "vitrine/vitrine.mjs")],
  outdir: out,
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  sourcemap: "linked",
  target: "es2020",
  logLevel: "warning",
  entryNames: "[name].[hash]",
  chunkNames: "vitrine-[name].[hash]",
  outExtension: { ".js": ".mjs" },
  plugins: [{ name: "core", setup: (b) => b.onResolve({ filter: /^\.\/vitrine_core\.js$/ }, () => ({ path: join(wasmDir, "vitrine_core.js") })) }],
});
const moduleName = readdirSync(out).find((f) => /^vitrine\.[^.]+\.mjs$/.test(f));
copyFileSync(join(www, "vitrine/vitrine.d.ts"), join(out, "vitrine.d.ts"));
console.log(`browser: ${moduleName}, ${wasmName}, vitrine.d.ts in ${out}; next: vitrine compile SITE.json --browser ${out}`);
