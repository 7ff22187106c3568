#!/bin/sh
# Installs the npm dependencies (Bun and Deno included) on first use, so that
# `npm run dev` and `npm test` work on a fresh clone with only Node and npm.
# `npm ci` installs exactly what package-lock.json records.
set -e
cd "$(dirname "$0")/.."
if [ ! -x node_modules/.bin/bun ] || [ ! -x node_modules/.bin/deno ] || [ package-lock.json -nt node_modules/.installed ]; then
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi
