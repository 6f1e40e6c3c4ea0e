#!/usr/bin/env bash
# The durable-authorization benchmark (BENCHMARKS.md, "Headline numbers" and "Method"): the release
# switch on PostgreSQL (or SQLite) with 10,000 provisioned cards, under `simulator load`, closed
# loop for saturation or open loop at a rate. Prints the load's summary and the journal's commit
# time and batch size as the switch measured them (its /metrics at the end of the run).
#
#   tools/bench/durable.sh saturation [DURATION] [OUT_DIRECTORY]
#   tools/bench/durable.sh open RATE [DURATION] [OUT_DIRECTORY]
#   e.g. tools/bench/durable.sh open 14500 30s /tmp/bench-half
#
# The database (`antaca_bench`, or OUT_DIRECTORY/bench.db with BENCH_STORE=sqlite) is provisioned
# on the first run and kept, with its cards file, in OUT_DIRECTORY; BENCH_FRESH=1 provisions it
# again. Before every PostgreSQL run the script runs CHECKPOINT: on a database that has not yet
# recycled its WAL segments, every new 16 MB segment is zero-filled and fsynced while commits wait
# (55-65 ms stalls), and the run would measure the WAL directory's first pass, not the switch.
#
# BENCH_BIN names the directory of the `antaca` and `simulator` binaries (default
# ${CARGO_TARGET_DIR:-target}/release), so that two builds can be run side by side on one database.
# BENCH_PG_QUERY is appended to the PostgreSQL URL (e.g. '?options=-c%20backend_flush_after%3D256kB'
# to set a server option for the switch's sessions).
# BENCH_MIX sets the load's mix (e.g. auth=50,completion=25,reversal=25, the soak's; default: auth only).
# Other switch settings pass through as ANTACA__* variables. Needs PostgreSQL at 127.0.0.1:5432
# (user postgres, trust), curl and python3; uses ports 28583/28443.
set -euo pipefail
cd "$(dirname "$0")/../.."

mode=${1:?usage: durable.sh saturation|open [RATE] [DURATION] [OUT_DIRECTORY]}
shift
case "$mode" in
    saturation) load_flags=(--in-flight 64) ;;
    open) rate=${1:?open needs a RATE}; shift; load_flags=(--in-flight 256 --rate "$rate") ;;
    *) echo "unknown mode $mode (saturation or open)" >&2; exit 2 ;;
esac
duration=${1:-30s}
out=${2:-/tmp/antaca-bench}
bin=${BENCH_BIN:-${CARGO_TARGET_DIR:-target}/release}
mkdir -p "$out"

if [ "${BENCH_STORE:-postgres}" = sqlite ]; then
    export ANTACA__DATABASE__URL=sqlite://$out/bench.db
    [ "${BENCH_FRESH:-0}" = 1 ] && rm -f "$out"/bench.db* "$out/cards.jsonl"
    provisioned=$([ -f "$out/cards.jsonl" ] && [ -f "$out/bench.db" ] && echo yes || echo no)
else
    export ANTACA__DATABASE__URL=postgres://postgres@127.0.0.1:5432/antaca_bench${BENCH_PG_QUERY:-}
    psql() { command psql -qAt -h 127.0.0.1 -U postgres "$@"; }
    exists=$(psql -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'antaca_bench'")
    if [ "${BENCH_FRESH:-0}" = 1 ] || [ "$exists" != 1 ] || [ ! -f "$out/cards.jsonl" ]; then
        psql -d postgres -c "DROP DATABASE IF EXISTS antaca_bench" -c "CREATE DATABASE antaca_bench"
        provisioned=no
    else
        provisioned=yes
    fi
fi
export ANTACA__NETWORK__LISTEN=127.0.0.1:28583
export ANTACA__HTTP__LISTEN=127.0.0.1:28443
export ANTACA__LOG__LEVEL=${ANTACA__LOG__LEVEL:-warn}

if [ "$provisioned" = no ]; then
    "$bin/antaca" provision --cards "${BENCH_CARDS:-10000}" --out "$out/cards.jsonl" > "$out/provision.log" 2>&1
fi
if [ "${BENCH_STORE:-postgres}" != sqlite ]; then
    psql -d antaca_bench -c CHECKPOINT
fi

source tools/switch.sh
trap 'kill ${switch:-} 2>/dev/null || true' EXIT
start_switch "$bin" "$out/switch.log" 28583

"$bin/simulator" load --switch 127.0.0.1:28583 --cards "$out/cards.jsonl" --connections 16 \
    "${load_flags[@]}" ${BENCH_MIX:+--mix "$BENCH_MIX"} --warmup 3s --duration "$duration" \
    --report "$out/report.json" --plot "$out/latency.svg" > "$out/load.log" 2>&1
curl -sk https://127.0.0.1:28443/metrics > "$out/metrics.txt"

python3 - "$out" <<'EOF'
import json, re, sys
out = sys.argv[1]
report = json.load(open(f"{out}/report.json"))
latency = report["latency_us"]
print(f"requests {report['requests']}, approved {report['approved']}, declined {report['declined']}, "
      f"errors {report['errors']}, throughput {report['throughput_per_s']:.0f}/s")
print(f"latency us: p50 {latency['p50']}  p90 {latency['p90']}  p99 {latency['p99']}  "
      f"p99.9 {latency['p999']}  max {latency['max']}")
seconds = report.get("per_second", [])
if seconds:
    p99s = sorted(s["latency_us"]["p99"] for s in seconds)
    print(f"per-second p99 us: median {p99s[len(p99s) // 2]}, max {p99s[-1]}, "
          f"seconds above 10 ms: {sum(1 for p in p99s if p > 10_000)} of {len(p99s)}")
metrics = open(f"{out}/metrics.txt").read()
for name, scale, unit in (("antaca_journal_commit_seconds", 1000, "ms"), ("antaca_journal_batch_changes", 1, "changes")):
    quantiles = dict(re.findall(rf'^{name}{{quantile="([0-9.]+)"}} ([0-9.e+-]+)$', metrics, re.M))
    if quantiles:
        shown = "  ".join(f"q{q} {float(v) * scale:.2f}" for q, v in quantiles.items() if q in ("0.5", "0.9", "0.99"))
        print(f"{name} ({unit}): {shown}")
EOF
