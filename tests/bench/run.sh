#!/bin/bash
# Run the benchmarks: O=build tests/bench/run.sh [NAME-FILTER]
#
# Runs every $O/tests/bench/bench_* program (each bounded in time, each in its
# own private network namespace), shows their output, then a summary of all
# BENCH and TARGET lines. Exit status is non-zero only if a benchmark crashed
# (died, timed out or exited non-zero); a missed target is reported, not a
# failure. Without root every program prints SKIPPED and exits 0.
#
# Env: BENCH_ROUNDS (interleaved rounds, default 11, at least 5),
# BENCH_TIMEOUT (seconds per program, default 300), and the per-program knobs
# documented at the top of each tests/bench/bench_*.c.
set -u
cd "$(dirname "$0")/../.."
O=${O:-build}
filter=${1:-}

out=$(mktemp)
pidfile=$(mktemp)
trap 'rm -f "$out" "$pidfile"' EXIT

cleanup_after() {
	local pid=$1 ns
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	if [ -d "/sys/fs/bpf/soccr-bench-$pid" ]; then
		rm -f "/sys/fs/bpf/soccr-bench-$pid/prog" "/sys/fs/bpf/soccr-bench-$pid/flows"
		rmdir "/sys/fs/bpf/soccr-bench-$pid" 2>/dev/null
	fi
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^soccr-$pid-"); do
		ip netns del "$ns" 2>/dev/null
	done
}

crashed=()
ran=0
start=$(date +%s)
for b in "$O"/tests/bench/bench_*; do
	[ -x "$b" ] || continue
	case "$b" in *.d | *.o) continue ;; esac
	name=$(basename "$b")
	[ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
	ran=$((ran + 1))
	printf '=== %s\n' "$name"
	# The program's pid names what it creates: pins /sys/fs/bpf/soccr-bench-PID,
	# namespaces soccr-PID-*. It removes them itself, but not when it crashes.
	timeout --kill-after=10 "${BENCH_TIMEOUT:-300}" \
		sh -c 'echo $$ > "$0" && exec "$1"' "$pidfile" "$b" 2>&1 | tee -a "$out"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -ne 0 ]; then
		crashed+=("$name (exit $rc)")
		printf -- '--- CRASHED %s (exit %d)\n' "$name" "$rc"
		cleanup_after "$(cat "$pidfile")"
	fi
done

if [ $ran -eq 0 ]; then
	echo "bench: no benchmark programs in $O/tests/bench (run 'make O=$O bench-build')" >&2
	exit 1
fi

echo
echo "================ benchmark summary ($(($(date +%s) - start)) s) ================"
echo "ratio_vs_X = this figure / X's in the same rounds (median of per-round ratios):"
echo "below 1 is faster than X for times, above 1 is more for throughputs."
echo
awk '
/^BENCH / {
	name = $2; med = ""; n = ""; ratios = ""
	for (i = 3; i <= NF; i++) {
		split($i, kv, "=")
		if (kv[1] == "median") med = kv[2]
		else if (kv[1] == "n") n = kv[2]
		else if (kv[1] ~ /^ratio_vs_/) {
			sub(/^ratio_vs_/, "", kv[1])
			ratios = ratios (ratios == "" ? "" : ", ") kv[1] " " kv[2] "x"
		}
	}
	printf "  %-40s %12s  n=%-3s %s\n", name, med, n, ratios
}' "$out"
echo
grep -E '^(TARGET|SKIPPED) ' "$out" | sed 's/^/  /'
met=$(grep -c '^TARGET [^ ]* MET ' "$out")
missed=$(grep -c '^TARGET [^ ]* MISSED ' "$out")
na=$(grep -c '^TARGET [^ ]* N/A ' "$out")
echo
echo "targets: $met met, $missed missed, $na not measured"

if [ ${#crashed[@]} -ne 0 ]; then
	printf '  CRASHED: %s\n' "${crashed[@]}"
	exit 1
fi
exit 0
