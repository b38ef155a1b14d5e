// services/console/web/build.mjs - bundles the console's front end with
// esbuild into OUT_DIR (index.html + assets/app.js + assets/app.css).
// Usage: node build.mjs NODE_MODULES_DIR OUT_DIR
// node_modules live under .cache/ (deploy/lib/web.sh runs npm ci there), so
// esbuild is loaded from that folder and module resolution is pointed at it.
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const [nodeModules, outDir] = process.argv.slice(2).map((p) => path.resolve(p));
if (!nodeModules || !outDir) {
  console.error('usage: node build.mjs NODE_MODULES_DIR OUT_DIR');
  process.exit(2);
}
const esbuild = createRequire(path.join(nodeModules, 'noop.js'))('esbuild');
mkdirSync(path.join(outDir, 'assets'), { recursive: true });
await esbuild.build({
  entryPoints: { app: path.join(here, 'src/main.js') },
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  outdir: path.join(outDir, 'assets'),
  nodePaths: [nodeModules],
  logLevel: 'warning',
});
await esbuild.build({
  entryPoints: { app: path.join(here, 'src/style.css') },
  bundle: true,
  minify: true,
  outdir: path.join(outDir, 'assets'),
  logLevel: 'warning',
});
copyFileSync(path.join(here, 'index.html'), path.join(outDir, 'index.html'));
console.log(`built ${outDir}`);
