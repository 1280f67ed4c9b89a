#!/bin/bash
# Run every libFuzzer target that `make fuzz` built: $O/fuzz/fuzz_NAME runs for
# FUZZ_SECONDS (default 30) seconds, starting from a temporary copy of
# tests/fuzz/corpus/NAME/ (the repository is never modified). Fails if any
# target crashes, leaks or trips a sanitizer; the crashing inputs are kept in
# $O/fuzz/crashes/NAME/ for `$O/fuzz/fuzz_NAME FILE` to replay.
# Builds nothing: `make fuzz` builds first, then calls this.
set -u
cd "$(dirname "$0")/../.."
O=${O:-build}
secs=${FUZZ_SECONDS:-30}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/soccr-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

ran=0
failed=()
for bin in "$O"/fuzz/fuzz_*; do
	[ -f "$bin" ] && [ -x "$bin" ] || continue
	name=$(basename "$bin")
	name=${name#fuzz_}
	work="$tmp/$name"
	mkdir -p "$work/corpus" "$work/artifacts"
	if [ -d "tests/fuzz/corpus/$name" ]; then
		cp -R "tests/fuzz/corpus/$name/." "$work/corpus/"
	else
		echo "fuzz_$name: no seed corpus in tests/fuzz/corpus/$name/, starting empty"
	fi
	printf '=== fuzz_%s (%ss, %d seeds)\n' "$name" "$secs" "$(ls "$work/corpus" | wc -l)"
	"$bin" -max_total_time="$secs" -artifact_prefix="$work/artifacts/" \
		-print_final_stats=1 "$work/corpus" >"$work/log" 2>&1
	rc=$?
	ran=$((ran + 1))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
	if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/artifacts")" ]; then
		failed+=("fuzz_$name")
		tail -n 40 "$work/log"
		mkdir -p "$O/fuzz/crashes/$name"
		cp -R "$work/artifacts/." "$O/fuzz/crashes/$name/" 2>/dev/null
		printf -- '--- FAIL fuzz_%s (exit %d); inputs kept in %s\n' "$name" $rc \
			"$O/fuzz/crashes/$name/"
	else
		printf -- '--- PASS fuzz_%s (%s executions, corpus grew to %d)\n' "$name" \
			"${execs:-?}" "$(ls "$work/corpus" | wc -l)"
	fi
done

if [ $ran -eq 0 ]; then
	echo "no fuzz targets in $O/fuzz/ (build them with 'make fuzz')" >&2
	exit 1
fi
echo
echo "fuzz: $ran targets, ${#failed[@]} failed"
if [ ${#failed[@]} -ne 0 ]; then
	printf '  FAILED: %s\n' "${failed[@]}"
	exit 1
fi
exit 0
