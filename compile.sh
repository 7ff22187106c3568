#!/usr/bin/env bash
# Builds the standalone kms binary from main.ts: ./compile.sh [--outfile PATH] (default dist/kms).
set -euo pipefail
caller="$PWD"
cd "$(dirname "$0")"

outfile="dist/kms"
while [ $# -gt 0 ]; do
  case "$1" in
    --outfile) [ $# -ge 2 ] || { echo "compile.sh: --outfile needs a path" >&2; exit 2; }; outfile="$2"; shift 2 ;;
    --outfile=*) outfile="${1#--outfile=}"; shift ;;
    -h|--help) echo "usage: ./compile.sh [--outfile PATH]"; exit 0 ;;
    *) echo "compile.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
  # A path the caller gives is relative to where they ran us, not to the repo.
  case "$outfile" in /*) ;; *) outfile="$caller/$outfile" ;; esac
done

node_modules/.bin/bun scripts/compile.ts --entry main.ts --outfile "$outfile"
size=$(wc -c <"$outfile")
echo "built $outfile ($size bytes, $((size / 1048576)) MiB)"
