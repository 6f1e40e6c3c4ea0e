#!/usr/bin/env bash
# The echo benchmark (BENCHMARKS.md, "Headline numbers" and "Method"): the release switch's 2804
# echo path against `simulator baseline` (iso8583_rs's own ISOServer, approve-all, keeping nothing),
# both running at once, measured in one run by the same `simulator load`, server by server and case
# by case, so that each ratio is between numbers taken minutes apart on the same machine.
#
#   tools/bench/echo.sh [DURATION] [OUT_DIRECTORY]
#   e.g. tools/bench/echo.sh 10s /tmp/bench-echo
#
# Cases: closed loop one request at a time per connection (64 × 1 and 4 × 1, the issue's
# reference figures), pipelined (64 × 64, 4 × 64), and open loop at equal offered load
# (BENCH_ECHO_RATES, default "20000 40000 60000", 64 connections, up to 64 in flight each).
# Prints one line per case and writes every report to OUT_DIRECTORY. The switch runs on a
# throw-away SQLite store in OUT_DIRECTORY (echo reads no state). BENCH_BIN names the directory of
# the `antaca` and `simulator` binaries (default ${CARGO_TARGET_DIR:-target}/release). Uses ports
# 28583/28443 (switch) and 28584 (baseline); needs python3.
set -euo pipefail
cd "$(dirname "$0")/../.."

duration=${1:-10s}
out=${2:-/tmp/antaca-bench-echo}
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}
rates=${BENCH_ECHO_RATES:-20000 40000 60000}
mkdir -p "$out"
rm -f "$out"/echo.db*

export ANTACA__DATABASE__URL=sqlite://$out/echo.db
export ANTACA__NETWORK__LISTEN=127.0.0.1:28583
export ANTACA__HTTP__LISTEN=127.0.0.1:28443
export ANTACA__LOG__LEVEL=${ANTACA__LOG__LEVEL:-warn}

source tools/switch.sh
trap 'kill ${switch:-} ${baseline:-} 2>/dev/null || true' EXIT
start_switch "$bin" "$out/switch.log" 28583
"$bin/simulator" baseline --listen 127.0.0.1:28584 > "$out/baseline.log" 2>&1 &
baseline=$!
for _ in $(seq 1 50); do
    (exec 3<>/dev/tcp/127.0.0.1/28584) 2>/dev/null && break
    sleep 0.2
done

# run NAME PORT CONNECTIONS IN_FLIGHT [RATE]
run() {
    local name=$1 port=$2 connections=$3 in_flight=$4 rate=${5:-}
    "$bin/simulator" load --switch 127.0.0.1:"$port" --mix echo=100 --connections "$connections" \
        --in-flight "$in_flight" ${rate:+--rate "$rate"} --warmup 1s --duration "$duration" \
        --report "$out/$name.json" > "$out/$name.log" 2>&1
    python3 - "$out/$name.json" "$name" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
latency = report["latency_us"]
print(f"{sys.argv[2]:<28} {report['throughput_per_s']:>10.0f}/s  p50 {latency['p50']:>7} us  "
      f"p99 {latency['p99']:>7} us  p99.9 {latency['p999']:>7} us  max {latency['max']:>7} us  "
      f"errors {report['errors']}")
EOF
}

for shape in "64 1" "4 1" "64 64" "4 64"; do
    set -- $shape
    run "baseline-${1}x${2}" 28584 "$1" "$2"
    run "switch-${1}x${2}" 28583 "$1" "$2"
done
for rate in $rates; do
    run "baseline-open-$rate" 28584 64 64 "$rate"
    run "switch-open-$rate" 28583 64 64 "$rate"
done
