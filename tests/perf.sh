#!/usr/bin/env bash
# Runs every benchmark several times and writes docs/PERFORMANCE.md.
#
#   bash tests/perf.sh                 # full: every bench 3 times
#   bash tests/perf.sh --quick         # each bench's --quick mode
#   bash tests/perf.sh --runs 5        # more runs
#   bash tests/perf.sh --only memory,scale   # some benches (the doc then lists only those)
#
# Each bench appends its figures (value, same-run baseline, target) as JSON lines to
# target/perf/<bench>-<run>.jsonl (STATIOND_BENCH_JSON) and its printed output to
# target/perf/<bench>-<run>.txt; examples/perf_report.rs then renders the medians, the
# individual runs, ratios and targets into docs/PERFORMANCE.md, around the hand-kept text
# of docs/PERFORMANCE-notes.md. Needs mosquitto (apt-get install -y mosquitto mosquitto-clients).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
quick=""
only="journal,uplink,resync,workflow,devices,bridge,memory,scale"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick="--quick" ;;
        --runs) runs="$2"; shift ;;
        --only) only="$2"; shift ;;
        *) echo "usage: bash tests/perf.sh [--quick] [--runs N] [--only a,b]" >&2; exit 2 ;;
    esac
    shift
done

if ! [ -x /usr/sbin/mosquitto ] && ! command -v mosquitto >/dev/null; then
    echo "the benchmarks need mosquitto, which is not installed: apt-get install -y mosquitto mosquitto-clients" >&2
    exit 1
fi

out=target/perf
rm -rf "$out"
mkdir -p "$out"

# Build everything first, then run the built executables (not `cargo bench`, which would
# rebuild mid-series if the sources change while the benchmarks run).
IFS=, read -r -a benches <<<"$only"
cargo bench --no-run --message-format=json $(printf -- '--bench %s ' "${benches[@]}") \
    | grep '"executable":"/' >"$out/build.jsonl"
cargo build --release --example perf_report
exe_of() {
    grep "\"name\":\"$1\"" "$out/build.jsonl" | grep '"kind":\["bench"\]' \
        | sed 's/.*"executable":"\([^"]*\)".*/\1/' | head -1
}

started=$(date -u +"%Y-%m-%d %H:%M UTC")
t0=$(date +%s)
for run in $(seq 1 "$runs"); do
    for b in "${benches[@]}"; do
        echo "== $b, run $run of $runs" >&2
        if ! STATIOND_BENCH_JSON="$PWD/$out/$b-$run.jsonl" \
            "$(exe_of "$b")" $quick 2>"$out/$b-$run.err" | tee "$out/$b-$run.txt"; then
            echo "bench $b failed (run $run); its stderr:" >&2
            tail -50 "$out/$b-$run.err" >&2
            exit 1
        fi
    done
done
minutes=$(( ($(date +%s) - t0 + 59) / 60 ))

# The machine, as the figures depend on it.
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
cores=$(nproc)
ram=$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
fs=$(df -PT target | awk 'NR==2 {print $2 " on " $1 ", mounted at " $7}')
disk=$(lsblk -ndo NAME,SIZE,ROTA "$(df -P target | awk 'NR==2 {print $1}')" 2>/dev/null \
    | awk '{print $1 ", " $2 ", " "rotational flag " $3}' || true)
load=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo "- **Date:** $started; $runs run(s) of each bench${quick:+ in --quick mode}, $minutes min in all (\`bash tests/perf.sh${quick:+ --quick}\`)"
    echo "- **CPU:** $cpu, $cores cores ($(uname -m)); **RAM:** $ram"
    echo "- **Kernel:** $(uname -sr); **rustc:** $(rustc --version)"
    echo "- **Target dir filesystem:** $fs${disk:+ (device: $disk)}"
    echo "- **Load average at the end:** $load (the box is shared; see the note on noise)"
    echo "- **Commit:** $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src drivers benches || echo ' plus uncommitted changes')"
} >"$out/machine.md"

target/release/examples/perf_report "$out" docs/PERFORMANCE-notes.md docs/PERFORMANCE.md
