#!/usr/bin/env bash
# Runs the libFuzzer targets of a VIRTGPU_FUZZ build (make fuzz).
#
# usage: run.sh BUILD_DIR SECONDS [TARGET...]
#   fuzzes each target (default: all) for SECONDS, one process on one core,
#   starting from tests/fuzz/corpus/TARGET; new inputs go to
#   BUILD_DIR/fuzz-corpus/TARGET, findings (crash-, timeout-, oom-, leak-)
#   to BUILD_DIR/fuzz-findings/TARGET/. Prints per target the executions,
#   their rate, the coverage and the findings; fails if any target found one.
# usage: run.sh --merge BUILD_DIR SEEDS_DIR
#   minimizes SEEDS_DIR/TARGET (seeds.py's output) into tests/fuzz/corpus/TARGET
#   (libFuzzer -merge=1: only inputs that add coverage are kept).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TARGETS=(apir_command host_calls graph_compute vtest graph_ops)
# -timeout: an input that runs longer is a finding (a runaway the host let
# through); -rss_limit_mb: the harness caps what a context allocates (fuzz.h)
OPTIONS=(-timeout=25 -rss_limit_mb=4096 -malloc_limit_mb=4096 -print_final_stats=1)

if [[ ${1:-} == --merge ]]; then
    build=$2 seeds=$3
    for t in "${TARGETS[@]}"; do
        mkdir -p "$HERE/corpus/$t"
        "$build/bin/fuzz_$t" -merge=1 "${OPTIONS[@]}" "$HERE/corpus/$t" "$seeds/$t" 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new files'
        printf '%s: %d files, %s\n' "$t" "$(ls "$HERE/corpus/$t" | wc -l)" "$(du -sh "$HERE/corpus/$t" | cut -f1)"
    done
    exit 0
fi

build=$1 seconds=$2
shift 2
[[ $# -gt 0 ]] && TARGETS=("$@")
failed=0
for t in "${TARGETS[@]}"; do
    work=$build/fuzz-corpus/$t findings=$build/fuzz-findings/$t log=$build/fuzz-$t.log
    mkdir -p "$work" "$findings"
    before=$(ls "$findings" | wc -l)
    "$build/bin/fuzz_$t" -max_total_time="$seconds" "${OPTIONS[@]}" -artifact_prefix="$findings/" \
        "$work" "$HERE/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    new=$(( $(ls "$findings" | wc -l) - before ))
    printf '%-14s %10s execs  %6s exec/s  %-22s %d finding(s)\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$new"
    if [[ $rc -ne 0 || $new -gt 0 ]]; then
        failed=1
        echo "  $t: libFuzzer exited with $rc; log $log, findings in $findings:"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|.*Test unit written)' "$log" | head -5 | sed 's/^/    /'
    fi
done
exit $failed
