#!/usr/bin/env bash
# Seeds the corpora with the golden fixtures (tests/fixtures/*.hex), as raw bytes:
# - fuzz/corpus/decode: every fixture;
# - fuzz/corpus/decide: the requests among them (2100, 2304, 2420, 2804) and, to check that
#   answers are ignored, the answers (2110, 2430, 2814). The decide target sends an input that
#   starts with an MTI digit as one frame (fuzz_targets/decide.rs); any other input is a script.
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/decode corpus/decide
for fixture in ../tests/fixtures/*.hex; do
    name=$(basename "$fixture" .hex)
    grep -v '^[[:space:]]*#' "$fixture" | tr -d ' \t\r\n' | xxd -r -p > "corpus/decode/$name"
    cp "corpus/decode/$name" "corpus/decide/$name"
done
ls -l corpus/decode corpus/decide
