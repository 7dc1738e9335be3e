// Builds the browser module's shipping folder, target/browser (run by `make browser` after the
// wasm core's build in target/wasm-web):
//   vitrine.<hash>.mjs (+ .map)  the ES module, with the wasm core's JS glue bundled in
//   vitrine_core.<hash>.wasm     the wasm core
//   vitrine.d.ts                 the module's types
// Names carry their content's hash, so a CDN may cache them for a year. The loader
// (vitrine.js) and the configuration (config.<hash>.bin) are written into the same folder by
// `vitrine compile site.json --browser target/browser`; docs/browser.md has the deploy steps.
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
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

const bundle = await build({
  entryPoints: [join(www, "vitrine/vitrine.mjs")],
  outfile: join(out, "vitrine.mjs"),
  bundle: true,
  format: "esm",
  minify: true,
  sourcemap: "external",
  target: "es2020",
  logLevel: "warning",
  write: false,
  plugins: [{ name: "core", setup: (b) => b.onResolve({ filter: /^\.\/vitrine_core\.js$/ }, () => ({ path: join(wasmDir, "vitrine_core.js") })) }],
});
const code = bundle.outputFiles.find((f) => f.path.endsWith(".mjs"));
const map = bundle.outputFiles.find((f) => f.path.endsWith(".map"));
const moduleName = `vitrine.${hash(code.contents)}.mjs`;
writeFileSync(join(out, moduleName), Buffer.concat([Buffer.from(code.contents), Buffer.from(`//# sourceMappingURL=${moduleName}.map\n`)]));
writeFileSync(join(out, `${moduleName}.map`), map.contents);
copyFileSync(join(www, "vitrine/vitrine.d.ts"), join(out, "vitrine.d.ts"));
console.log(`browser: ${moduleName}, ${wasmName}, vitrine.d.ts in ${out}; next: vitrine compile SITE.json --browser ${out}`);
