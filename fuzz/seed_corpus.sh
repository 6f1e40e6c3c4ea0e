#!/usr/bin/env bash
# Seeds fuzz/corpus/decode with the golden fixtures (tests/fixtures/*.hex), as raw bytes.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/decode
for fixture in ../tests/fixtures/*.hex; do
    grep -v '^[[:space:]]*#' "$fixture" | tr -d ' \t\r\n' | xxd -r -p > "corpus/decode/$(basename "$fixture" .hex)"
done
ls -l corpus/decode
