#!/usr/bin/env bash
# Runs libFuzzer targets one after the other, each for a while, and fails when one
# finds anything.  Usage (what `make fuzz` does):
#   tests/fuzz/run.sh OUT_DIR SECONDS fuzz_TARGET...
# For each target OUT_DIR/fuzz_TARGET: seeds and a dictionary are made afresh from
# tests/data/ (tests/fuzz/seeds.py) into OUT_DIR/seeds/TARGET and
# OUT_DIR/dict/TARGET.dict; what the fuzzer learns is kept in OUT_DIR/corpus/TARGET
# for the next run; a crash, leak, sanitizer report, failed check or slow input is
# written under OUT_DIR/artifacts/TARGET/ and its path printed, with the command
# that replays it.  The log of each run is OUT_DIR/logs/TARGET.log.
set -u
cd "$(dirname "$0")/../.."

if [ $# -lt 3 ]; then
    echo "usage: $0 OUT_DIR SECONDS fuzz_TARGET..." >&2
    exit 2
fi
out=$1
seconds=$2
shift 2
command -v python3 >/dev/null || { echo "fuzz: python3 is needed for the seeds" >&2; exit 1; }

# Leaks are findings; UBSan prints where it stopped.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for program in "$@"; do
    name=${program#fuzz_}
    seeds=$out/seeds/$name
    corpus=$out/corpus/$name
    artifacts=$out/artifacts/$name
    dict=$out/dict/$name.dict
    log=$out/logs/$name.log
    rm -rf "$seeds"
    mkdir -p "$seeds" "$corpus" "$artifacts" "$out/dict" "$out/logs"
    if ! python3 tests/fuzz/seeds.py "$name" "$seeds" "$dict"; then
        failed+=("$name")
        continue
    fi
    before=$(ls "$artifacts" | tr "\n" " ")
    # Input is /dev/null: nothing a harness does may wait for a terminal.
    "$out/$program" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
        -print_final_stats=1 -dict="$dict" -artifact_prefix="$artifacts/" \
        "$corpus" "$seeds" </dev/null >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ $rc = 0 ]; then
        printf 'PASS %-28s %9s runs in %ss, %s, corpus %s\n' "$program" "${runs:-?}" \
            "$seconds" "${cov:-cov: ?}" "$(ls "$corpus" | wc -l)"
        continue
    fi
    failed+=("$name")
    printf 'FAIL %-28s exit %s, log %s\n' "$program" "$rc" "$log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz: |.*runtime error)' "$log" | head -20 | sed 's/^/    /'
    for a in $(ls "$artifacts"); do
        case " $before " in *" $a "*) continue ;; esac
        echo "    reproducer: $artifacts/$a"
        echo "    replay:     $out/$program $artifacts/$a"
    done
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: ${#failed[@]} of $# targets failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzz: $# targets ran ${seconds}s each without a finding"
