#!/bin/bash
# The lock belongs to its network namespace. Without --pin-dir, driven the
# way people run commands in a namespace (`ip netns exec`, which gives each
# command a private /sys and bpffs, and `nsenter --net`, which does not):
#  - add/del/list without an attached lock fail (exit 1) and say what to do;
#  - a lock attached through one is found and fed through the other;
#  - 20 namespaces at once: each attaches, locks one 4-tuple all share and
#    one of its own, and unmarked frames injected on its lo show that each
#    drops exactly its own flows (the lock's counters) and lets the others'
#    through (they reach IP: Ip InReceives of that namespace grows by exactly
#    their count); detaching one leaves the others dropping;
#  - `lock status`: a healthy lock, then broken ones (pin removed, program
#    taken off a hook by hand), each reported with exit 1.
# Run twice by the suite: with tcx and with SOCCR_NO_TCX=1 (classic filters).
set -u
SOCCR=${SOCCR:-build/soccr}
[ -x "$SOCCR" ] || { echo "lock_netns: no soccr binary at $SOCCR" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: lock_netns.sh needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
command -v jq >/dev/null || { echo "lock_netns: jq missing ('make deps')" >&2; exit 1; }

N=20
P=sln$$
PIN=/sys/fs/bpf/soccr-test-$$-netns
T=$(mktemp -d /tmp/soccr-lock-netns.XXXXXX)
CLASSIC=${SOCCR_NO_TCX:-0}

cleanup() {
	for i in $(seq 0 $N); do ip netns del "$P-$i" 2>/dev/null; done
	rm -f "$PIN/prog"; rmdir "$PIN" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() {
	fail=$((fail + 1)); echo "not ok - $1"
	[ -s "$T/err" ] && sed 's/^/#   /' "$T/err"
	return 0
}

ns() { echo "$P-$1"; }
via_exec() { local i=$1; shift; ip netns exec "$(ns "$i")" "$@"; }
via_nsenter() { local i=$1; shift; nsenter --net="/run/netns/$(ns "$i")" "$@"; }
# Ip InReceives of namespace $1: frames that got past lo's egress and ingress hooks.
ip_in() { via_nsenter "$1" awk '/^Ip:/ { if (h) { print $4; exit } h = 1 }' /proc/net/snmp; }
# $4 unmarked ACKs from $2 to $3 on lo of namespace $1, one send each. A frame the lock
# drops at lo's egress fails its send (ENOBUFS): expected here, so the status is not looked at.
inject() {
	for _ in $(seq "$4"); do
		via_nsenter "$1" "$SOCCR" inject --no-mark --src "$2" --dst "$3" --seq 1 --ack 1 \
			>/dev/null 2>&1
	done
	return 0
}
# dropped_out+dropped_in of flow $2 $3 in namespace $1's lock (empty if not listed).
dropped() {
	via_exec "$1" "$SOCCR" lock list --json |
		jq -r --arg s "$2" --arg d "$3" '.[] |
			select("\(.src.addr):\(.src.port)" == $s and "\(.dst.addr):\(.dst.port)" == $d) |
			.dropped_out + .dropped_in'
}

SHARED_L=127.0.0.1:40000 SHARED_P=127.0.0.1:5555
own_l() { echo "127.0.0.1:$((41000 + $1))"; }
own_p() { echo "127.0.0.1:$((6000 + $1))"; }

PINS_BEFORE=$(ls /sys/fs/bpf 2>/dev/null)
for i in $(seq 0 $N); do
	ip netns add "$(ns "$i")" || exit 1
	ip -n "$(ns "$i")" link set lo up || exit 1
done

# ---- no silent no-op -----------------------------------------------------------------
for how in via_exec via_nsenter; do
	for cmd in "add $SHARED_L $SHARED_P" "del $SHARED_L $SHARED_P" "list"; do
		$how 0 "$SOCCR" lock $cmd >"$T/out" 2>"$T/err"
		rc=$?
		if [ $rc -eq 1 ] && grep -q "no lock is attached in this network namespace: run 'soccr lock attach'" \
			"$T/err" && [ ! -s "$T/out" ]; then
			ok "$how: lock ${cmd%% *} without an attached lock fails and says so"
		else
			bad "$how: lock ${cmd%% *} without a lock: exit $rc"
		fi
	done
done
via_exec 0 "$SOCCR" lock status >"$T/out" 2>"$T/err"
[ $? -eq 1 ] && grep -q "^no lock in this network namespace$" "$T/out" &&
	ok "status without a lock: exit 1, says none" || bad "status without a lock"

# ---- ip netns exec and nsenter --net see one lock --------------------------------------
via_exec 0 "$SOCCR" lock attach 2>"$T/err" && ok "attach through ip netns exec" ||
	bad "attach through ip netns exec"
via_nsenter 0 "$SOCCR" lock add "$SHARED_L" "$SHARED_P" 2>"$T/err" &&
	ok "add through nsenter --net" || bad "add through nsenter --net"
via_exec 0 "$SOCCR" lock add "$(own_l 0)" "$(own_p 0)" 2>"$T/err" &&
	ok "add through ip netns exec" || bad "add through ip netns exec"
for how in via_exec via_nsenter; do
	n=$($how 0 "$SOCCR" lock list --json 2>"$T/err" | jq length)
	[ "$n" = 2 ] && ok "$how lists both flows" || bad "$how lists $n flows, want 2"
done
via_exec 0 "$SOCCR" lock status --json >"$T/st" 2>"$T/err"
rc=$?
want_attach=$([ "$CLASSIC" = 1 ] && echo clsact || echo tcx)
if [ $rc -eq 0 ] && jq -e --arg a "$want_attach" '.healthy and .flows == 2 and .pin_dir == null and
	(.hooks | length) == 2 and all(.hooks[]; .dev == "lo" and .attach == $a) and
	.owner == "user" and .layout == 2 and .pass_mark == 49428 and .memlock > 0 and
	.memlock <= 1048576' "$T/st" >/dev/null; then
	ok "status: healthy, $want_attach on lo ingress+egress, 2 flows, under 1 MiB"
else
	bad "status of a healthy lock (exit $rc): $(cat "$T/st")"
fi
[ "$(ls /sys/fs/bpf 2>/dev/null)" = "$PINS_BEFORE" ] && ok "nothing pinned in the host's bpffs" ||
	bad "new pins in /sys/fs/bpf: $(ls /sys/fs/bpf)"
via_exec 0 "$SOCCR" lock detach 2>"$T/err" && ok "detach through ip netns exec" || bad "detach"
via_nsenter 0 "$SOCCR" lock list >/dev/null 2>&1 && bad "list after detach found a lock" ||
	ok "list after detach: no lock"

# ---- 20 namespaces at once ---------------------------------------------------------------
# Each: attach, lock the shared 4-tuple and its own, send 3 unmarked frames of the shared
# flow, 3 of its own, 1 of the next namespace's flow (not locked here); all in parallel.
K=3
for i in $(seq 1 $N); do
	(
		j=$((i % N + 1))
		how=$([ $((i % 2)) = 0 ] && echo via_exec || echo via_nsenter)
		r0=$(ip_in "$i")
		$how "$i" "$SOCCR" lock attach &&
			$how "$i" "$SOCCR" lock add "$SHARED_L" "$SHARED_P" &&
			$how "$i" "$SOCCR" lock add "$(own_l "$i")" "$(own_p "$i")" &&
			inject "$i" "$SHARED_P" "$SHARED_L" $K &&
			inject "$i" "$(own_p "$i")" "$(own_l "$i")" $K &&
			inject "$i" "$(own_p "$j")" "$(own_l "$j")" 1 || exit 1
		# Sent synchronously on lo: what passed is counted by the time inject returns.
		echo "$(($(ip_in "$i") - r0))" >"$T/rst.$i"
	) >"$T/par.$i" 2>&1 &
done
wait
for i in $(seq 1 $N); do
	j=$((i % N + 1))
	[ -s "$T/rst.$i" ] || { cp "$T/par.$i" "$T/err"; bad "ns $i: set-up failed"; continue; }
	ds=$(dropped "$i" "$SHARED_L" "$SHARED_P")
	do=$(dropped "$i" "$(own_l "$i")" "$(own_p "$i")")
	dj=$(dropped "$i" "$(own_l "$j")" "$(own_p "$j")")
	n=$(via_exec "$i" "$SOCCR" lock list --json | jq length)
	if [ "$ds" = $K ] && [ "$do" = $K ] && [ -z "$dj" ] && [ "$n" = 2 ] &&
		[ "$(cat "$T/rst.$i")" = 1 ]; then
		ok "ns $i: dropped its $K+$K frames, let the other namespace's one through"
	else
		bad "ns $i: shared $ds, own $do, other '$dj', $n flows, $(cat "$T/rst.$i") frames to IP"
	fi
done

# Detach one: the others keep dropping.
via_nsenter 1 "$SOCCR" lock detach 2>"$T/err" || bad "detach ns 1"
r0=$(ip_in 1)
inject 1 "$SHARED_P" "$SHARED_L" 1
[ "$(ip_in 1)" = $((r0 + 1)) ] && ok "ns 1 after detach: the shared flow goes through" ||
	bad "ns 1 after detach: the shared flow is still dropped"
all=1
for i in $(seq 2 $N); do
	inject "$i" "$SHARED_P" "$SHARED_L" 1
	[ "$(dropped "$i" "$SHARED_L" "$SHARED_P")" = $((K + 1)) ] || { all=0; echo "# ns $i"; }
done
[ $all = 1 ] && ok "detach in ns 1 leaves the 19 others dropping" ||
	bad "a detach in one namespace changed another's lock"

# Detach all of them at once.
for i in $(seq 2 $N); do via_exec "$i" "$SOCCR" lock detach & done
wait
left=0
for i in $(seq 1 $N); do
	[ "$(via_nsenter "$i" "$SOCCR" lock status --json | jq '.hooks | length')" = 0 ] ||
		left=$((left + 1))
done
[ $left = 0 ] && ok "20 concurrent detaches leave no lock program" || bad "$left namespaces keep a lock"

# ---- broken locks, as status reports them -------------------------------------------------
# A shared lock whose pin was removed by hand: attached, not pinned.
via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" attach 2>"$T/err" || bad "attach with --pin-dir"
rm -f "$PIN/prog"
via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" status --json >"$T/st" 2>"$T/err"
rc=$?
[ $rc = 1 ] && jq -e '.found and (.healthy | not) and ([.problems[].code] == ["no_pin"])' "$T/st" \
	>/dev/null && ok "status: pin removed -> no_pin, exit 1" || bad "pin removed (exit $rc): $(cat "$T/st")"
via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" status >"$T/out" 2>&1
grep -q "^problem: no_pin: " "$T/out" && grep -q "^repair: " "$T/out" &&
	ok "status text names the problem and the repair" || bad "status text: $(cat "$T/out")"
via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" detach 2>"$T/err" || bad "detach the shared lock"

if [ "$CLASSIC" = 1 ]; then
	# The egress filter taken away by hand: half a lock.
	via_exec 0 "$SOCCR" lock attach 2>"$T/err" || bad "attach for the half case"
	via_nsenter 0 tc filter del dev lo egress pref 1 || bad "tc filter del"
	via_exec 0 "$SOCCR" lock status --json >"$T/st" 2>"$T/err"
	rc=$?
	[ $rc = 1 ] && jq -e '[.problems[].code] == ["half"] and (.hooks | length) == 1' "$T/st" \
		>/dev/null && ok "status: egress filter removed -> half, exit 1" ||
		bad "half lock (exit $rc): $(cat "$T/st")"
	via_exec 0 "$SOCCR" lock detach 2>"$T/err" || bad "detach the half lock"
	# A shared lock with both filters taken away: pinned, attached nowhere.
	via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" attach 2>"$T/err" || bad "attach, pinned"
	via_nsenter 0 tc filter del dev lo egress pref 1
	via_nsenter 0 tc filter del dev lo ingress pref 1
	via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" status --json >"$T/st" 2>"$T/err"
	rc=$?
	[ $rc = 1 ] && jq -e '[.problems[].code] == ["pin_only"] and (.hooks | length) == 0' "$T/st" \
		>/dev/null && ok "status: program detached by hand -> pin_only, exit 1" ||
		bad "pin_only (exit $rc): $(cat "$T/st")"
	via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" add 10.0.0.1:1 10.0.0.2:2 >/dev/null 2>&1
	via_nsenter 0 "$SOCCR" lock --pin-dir "$PIN" detach 2>"$T/err" || bad "detach pin_only"
	[ ! -e "$PIN" ] && ok "detach removes the pin of a lock attached nowhere" || bad "pin left"
fi

echo "# lock_netns: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
