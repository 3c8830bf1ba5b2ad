#!/usr/bin/env bash
# Bundles the staff's definition editor (CodeMirror 6 and what it needs, from
# the npm registry) into server/assets/editor.js, with the licences of what
# it holds in server/assets/editor.licenses.txt. Both are committed and
# embedded in the binary: `cargo build` needs nothing but Rust. Run it again
# after changing server/editor/ or its package versions.
set -euo pipefail
cd "$(dirname "$0")/../server/editor"
npm ci --no-audit --no-fund --silent
npx esbuild src/editor.js --bundle --minify --format=iife --target=es2020 \
  --legal-comments=none --metafile=meta.json --outfile=../assets/editor.js
# The licence of every package the bundle holds, from its own LICENSE file.
node - <<'JS'
const fs = require("fs");
const path = require("path");
const meta = JSON.parse(fs.readFileSync("meta.json", "utf8"));
const packages = new Set();
for (const input of Object.keys(meta.outputs["../assets/editor.js"].inputs)) {
  const match = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (match) packages.add(match[1]);
}
let out = "Licences of the packages bundled in editor.js (server/editor, scripts/build-editor.sh)\n";
for (const name of [...packages].sort()) {
  const folder = path.join("node_modules", name);
  const manifest = JSON.parse(fs.readFileSync(path.join(folder, "package.json"), "utf8"));
  const file = fs.readdirSync(folder).find((f) => /^licen[cs]e/i.test(f));
  out += `\n==== ${name} ${manifest.version} (${manifest.license}) ====\n`;
  out += file ? fs.readFileSync(path.join(folder, file), "utf8") : `${manifest.license}\n`;
}
fs.writeFileSync("../assets/editor.licenses.txt", out);
JS
rm -f meta.json
echo "server/assets/editor.js: $(wc -c < ../assets/editor.js) bytes"
