#!/bin/bash
# Stress runs (root), longer than `make check` allows:
#  - migration under load at full scale: 1,000 connections (IPv4, then IPv6)
#    streaming both ways, a third of them half-closed each way, checkpointed
#    under one batch lock and restored by another process, every byte checked,
#    no RST allowed (tests/integration/test_migrate_load.c with
#    SOCCR_MIGRATE_CONNS=1000);
#  - the fault injection tests again (they are deterministic; the rerun
#    catches state left behind by the first run).
# SOCCR_STRESS_CONNS and SOCCR_STRESS_BYTES change the scale.
set -u
cd "$(dirname "$0")/../.."
O=${O:-build}
export SOCCR="$PWD/$O/soccr" SOCCR_BUILD="$PWD/$O" SOCCR_SRC="$PWD"

if [ "$(id -u)" -ne 0 ]; then
	echo "stress: needs root (network namespaces, TCP_REPAIR)" >&2
	exit 1
fi

failed=()
run() {
	local name=$1 start rc
	shift
	printf '=== stress %s\n' "$name"
	start=$(date +%s%N)
	timeout --kill-after=10 1200 "$@"
	rc=$?
	if [ $rc -eq 0 ]; then
		printf -- '--- PASS stress %s (%d ms)\n' "$name" $((($(date +%s%N) - start) / 1000000))
	else
		failed+=("$name")
		printf -- '--- FAIL stress %s (exit %d)\n' "$name" $rc
	fi
}

run "migrate_load ${SOCCR_STRESS_CONNS:-1000} connections" \
	env SOCCR_MIGRATE_CONNS="${SOCCR_STRESS_CONNS:-1000}" \
	SOCCR_MIGRATE_BYTES="${SOCCR_STRESS_BYTES:-524288}" "$O/tests/integration/test_migrate_load"
run "fault_restore" "$O/tests/integration/test_fault_restore"
run "fault_lock" "$O/tests/integration/test_fault_lock"

echo
echo "stress: ${#failed[@]} failed"
if [ ${#failed[@]} -ne 0 ]; then
	printf '  FAILED: %s\n' "${failed[@]}"
	exit 1
fi
exit 0
