# bench/lib.sh — helpers shared by the benchmarks (applier.sh, cluster.sh,
# webhook.sh): progress lines, the machine description, nearest-rank
# percentiles, ratios and goal verdicts.  Sourced, not run.

say() { printf 'bench: %s\n' "$*" >&2; }

# bench_cpu_model: the processor's model name, from /proc/cpuinfo.
bench_cpu_model() { awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo; }

# bench_percentile P [DIVISOR]: the nearest-rank P-th percentile of the numbers
# on stdin, one a line ("-" when there are none); divided by DIVISOR and printed
# with two decimals when one is given, else as read.
bench_percentile() {
    sort -n |
        awk -v p="$1" -v d="${2:-}" '{ v[NR] = $1 }
            END { if (!NR) { print "-"; exit }
                  i = int(p / 100 * NR); if (i < p / 100 * NR) i++; if (i < 1) i = 1
                  if (d != "") printf "%.2f", v[i] / d; else print v[i] }'
}

# ratio A B: A / B with two decimals, "-" when B is not positive.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# verdict OK: "met" when OK is a true awk expression (non-zero), else "NOT met".
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "NOT met") }'; }
