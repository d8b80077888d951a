// The npm oracle: the `semver` package (strict parsing, as npm reads lockfiles) orders
// and decomposes versions, and `semver.diff` classifies the pairs of its own tests.
//
// Usage: node npm.js OUT_DIR INPUT... (writes OUT_DIR/npm.tsv and OUT_DIR/npm-diff.tsv)
'use strict'

const fs = require('fs')
const path = require('path')
const semver = require('semver')

const lines = (file) =>
  fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))

const [outDir, ...inputs] = process.argv.slice(2)
const pairFiles = inputs.filter((f) => f.endsWith('-pairs.txt'))
const versionFiles = inputs.filter((f) => !f.endsWith('-pairs.txt'))
const bytes = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))

const valid = [...new Set(versionFiles.flatMap(lines))].filter((s) => semver.parse(s) !== null)
valid.sort((a, b) => semver.compare(a, b) || bytes(a, b))
const rows = []
let rank = -1
valid.forEach((s, i) => {
  if (i === 0 || semver.compare(valid[i - 1], s) !== 0) {
    rank += 1
  }
  const v = semver.parse(s)
  rows.push([s, rank, 0, `${v.major}.${v.minor}.${v.patch}`, v.prerelease.length > 0, '-'].join('\t'))
})
const header = `# semver ${require('semver/package.json').version}\n`
fs.writeFileSync(path.join(outDir, 'npm.tsv'),
  header + 'version\trank\tepoch\trelease\tprerelease\tpost\n' + rows.map((r) => r + '\n').join(''))

const pairs = []
const seen = new Set()
for (const line of pairFiles.flatMap(lines)) {
  const [a, b] = line.split('\t')
  if (semver.parse(a) === null || semver.parse(b) === null || seen.has(line)) {
    continue
  }
  seen.add(line)
  pairs.push([a, b, semver.diff(a, b) ?? '-'].join('\t'))
}
fs.writeFileSync(path.join(outDir, 'npm-diff.tsv'),
  header + 'from\tto\tdiff\n' + pairs.map((p) => p + '\n').join(''))
