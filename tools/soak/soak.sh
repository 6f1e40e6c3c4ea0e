#!/usr/bin/env bash
# The soak (RELIABILITY.md, "The latest run of each long test"): the release switch on a fresh
# PostgreSQL database under an open-loop load for DURATION at RATE authorizations/s, with the
# switch's resident memory sampled every 10 s. Prints, per minute, throughput and p50/p99 (from the
# load report's per-second figures) and the resident memory, then the first and last minute side by
# side.
#
#   tools/soak/soak.sh RATE [DURATION] [OUT_DIRECTORY]
#   e.g. tools/soak/soak.sh 5000 10m /tmp/soak
#
# The mix closes every hold it opens (half authorizations, a quarter completions, a quarter
# reversals of them), and recorded answers are kept 120 s (`authorization.duplicate_retention_s`,
# swept every 10 s) instead of the default 7 days: memory holds every answer of the retention
# window and every open hold by design, so only with a window shorter than the run can it be seen
# to level off. SOAK_MIX and SOAK_RETENTION_S change them.
#
# Needs the release binaries (`cargo build --release -p antaca -p simulator`; CARGO_TARGET_DIR is
# honoured), PostgreSQL at 127.0.0.1:5432 (user postgres, trust) and python3. Uses the database
# `antaca_soak` (dropped and created again) and ports 18583/18443.
set -euo pipefail
cd "$(dirname "$0")/../.."

rate=${1:?usage: soak.sh RATE [DURATION] [OUT_DIRECTORY]}
duration=${2:-10m}
out=${3:-/tmp/antaca-soak}
bin=${CARGO_TARGET_DIR:-target}/release
cards=${SOAK_CARDS:-10000}
mkdir -p "$out"

psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS antaca_soak" -c "CREATE DATABASE antaca_soak"
export ANTACA__DATABASE__URL=postgres://postgres@127.0.0.1:5432/antaca_soak
export ANTACA__NETWORK__LISTEN=127.0.0.1:18583
export ANTACA__HTTP__LISTEN=127.0.0.1:18443
export ANTACA__LOG__LEVEL=warn
export ANTACA__AUTHORIZATION__DUPLICATE_RETENTION_S=${SOAK_RETENTION_S:-120}
export ANTACA__AUTHORIZATION__HOLD_EXPIRY_INTERVAL_S=10
mix=${SOAK_MIX:-auth=50,completion=25,reversal=25}

"$bin/antaca" provision --cards "$cards" --out "$out/cards.jsonl" > "$out/provision.log" 2>&1
source tools/switch.sh
trap 'kill ${switch:-} ${sampler:-} 2>/dev/null || true' EXIT
start_switch "$bin" "$out/switch.log" 18583

# Resident memory (kB) every 10 s: seconds since start, VmRSS.
(
    started=$(date +%s)
    while kill -0 "$switch" 2>/dev/null; do
        echo "$(( $(date +%s) - started )) $(awk '/^VmRSS/ {print $2}' "/proc/$switch/status")"
        sleep 10
    done
) > "$out/rss.txt" &
sampler=$!

"$bin/simulator" load --switch 127.0.0.1:18583 --cards "$out/cards.jsonl" \
    --connections 16 --in-flight 256 --rate "$rate" --mix "$mix" --warmup 10s --duration "$duration" \
    --report "$out/report.json" --plot "$out/latency.svg" > "$out/load.log" 2>&1

python3 - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
report = json.load(open(f"{out}/report.json"))
rss = [tuple(map(int, line.split())) for line in open(f"{out}/rss.txt") if len(line.split()) == 2]
seconds = report["per_second"]
print(f"requests {report['requests']}, errors {report['errors']}, unanswered {report['unanswered']}, "
      f"throughput {report['throughput_per_s']:.0f}/s, p50 {report['latency_us']['p50']} us, "
      f"p99 {report['latency_us']['p99']} us, p99.9 {report['latency_us']['p999']} us")
print("minute  answers/s  p50 us (median of seconds)  p99 us (max of seconds)  RSS MiB")
rows = []
for minute in range(0, len(seconds) // 60 + 1):
    chunk = seconds[minute * 60:(minute + 1) * 60]
    if not chunk:
        continue
    answers = sum(s["answers"] for s in chunk) / len(chunk)
    p50 = sorted(s["latency_us"]["p50"] for s in chunk)[len(chunk) // 2]
    p99 = max(s["latency_us"]["p99"] for s in chunk)
    # The load's clock starts after the 10 s warm-up and the provisioning; RSS is by wall time.
    in_minute = [kb for (t, kb) in rss if t // 60 == minute]
    mib = (in_minute[-1] if in_minute else rss[-1][1]) / 1024
    rows.append((minute, answers, p50, p99, mib))
    print(f"{minute:6d}  {answers:9.0f}  {p50:26d}  {p99:23d}  {mib:7.1f}")
print(f"RSS first sample {rss[0][1] / 1024:.1f} MiB, last {rss[-1][1] / 1024:.1f} MiB")
EOF
