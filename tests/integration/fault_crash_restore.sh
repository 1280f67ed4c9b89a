#!/bin/bash
# A restore that dies between lock and unlock: `soccr restore` is stopped by
# the fault shim (tests/fault) at its first connect() -- inside
# libsoccr_restore(), after the image's flow was found locked and the new
# socket was put in repair mode -- and killed with SIGKILL.
#
#   netns S (server: echo_server, soccr save/restore) --- veth --- netns C (tcp_client)
#
# Then:
#  - `soccr lock list` shows the flow, before and after the kill (the lock is
#    pinned, it outlives the process);
#  - the peer saw nothing of it: no RST, no FIN, no segment at all of the flow
#    reached C while the restore was stopped and killed (tcpdump in C);
#  - connection 1: a second `soccr restore` of the same image succeeds, unlocks
#    the flow, and the client gets every byte back (exit 0);
#  - connection 2 (crashed the same way): `soccr lock detach` removes the lock
#    left behind: no flow listed, no filter, no clsact, no pin.
set -u
SOCCR=${SOCCR:-build/soccr}
BUILD=${SOCCR_BUILD:-build}
H=$BUILD/tests/helpers
SHIM=$BUILD/tests/fault/libsoccr_fault.so
[ "${SHIM:0:1}" = / ] || SHIM=$PWD/$SHIM

if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: $0 needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
for f in "$SOCCR" "$H/echo_server" "$H/tcp_client"; do
	[ -x "$f" ] || { echo "fault_crash_restore: missing $f" >&2; exit 1; }
done
[ -f "$SHIM" ] || { echo "fault_crash_restore: missing $SHIM (make tests)" >&2; exit 1; }

id=$$
S=soccr-cr$id-s C=soccr-cr$id-c
PIN=/sys/fs/bpf/soccr-crash-$id
T=$(mktemp -d /tmp/soccr-crash-restore.XXXXXX)
net=$((100 + id % 100))
pids=()

cleanup() {
	for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	ip netns del "$S" 2>/dev/null
	ip netns del "$C" 2>/dev/null
	rm -f "$PIN/prog" "$PIN/flows" 2>/dev/null
	rmdir "$PIN" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
die() {
	echo "not ok - $*"
	for f in "$T"/*/*.out "$T"/*/*.err; do
		[ -s "$f" ] && { echo "# $f:"; sed 's/^/#   /' "$f"; }
	done
	exit 1
}
. "${SOCCR_SRC:-.}/tests/lib/netns.sh"
# The state letter of a process (T: stopped).
proc_state() { awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null; }
# Lock programs at hook $2 of device $1 (tcx or classic), as the kernel lists them.
ours() {
	in_ns $S "$SOCCR" lock --pin-dir "$PIN" status --json 2>/dev/null |
		jq "[.hooks[] | select(.dev == \"$1\" and .hook == \"$2\")] | length"
}

ip netns add $S || exit 1
ip netns add $C || exit 1
ip -n $S link set lo up
ip -n $C link set lo up
ip -n $S link add eth0 type veth peer name eth0 netns $C || die "veth"
ip -n $S addr add 10.$net.77.1/24 dev eth0
ip -n $C addr add 10.$net.77.2/24 dev eth0
ip -n $S link set eth0 up
ip -n $C link set eth0 up
in_ns $S "$SOCCR" lock --pin-dir "$PIN" attach >/dev/null || die "lock attach in S"

GREET=65536 SEND1=10000 SEND2=8192

# prepare NAME PORT: a connection C -> S, checkpointed with `soccr save` (flow locked),
# the server killed. Sets $d and $cli.
prepare() {
	local name=$1 port=$2 srv pid fd
	d=$T/$name
	mkdir -p "$d"
	in_ns $S "$H/echo_server" --listen 10.$net.77.1:$port --greet $GREET --ready "$d/ready" \
		>"$d/origin.out" 2>&1 &
	srv=$!
	pids+=($srv)
	in_ns $C "$H/tcp_client" --connect 10.$net.77.1:$port --dir "$d" --rcvbuf 4096 \
		--greet $GREET --send1 $SEND1 --send2 $SEND2 >"$d/client.out" 2>&1 &
	cli=$!
	pids+=($cli)
	wait_file "$d/ready"
	read -r pid fd <"$d/ready"
	kill -STOP "$pid"
	touch "$d/go1"
	wait_file "$d/sent1"
	in_ns $S "$SOCCR" save --pid "$pid" --fd "$fd" -o "$d/conn.img" --pin-dir "$PIN" \
		>"$d/save.out" 2>"$d/save.err" || die "$name: soccr save"
	kill -KILL "$pid"
	wait "$srv" 2>/dev/null
	in_ns $S "$SOCCR" lock --pin-dir "$PIN" list >"$d/list0.out" 2>&1
	grep -q "^10.$net.77.1:$port " "$d/list0.out" || die "$name: flow not locked after save"
}

tpid=
stop_capture() {
	kill -TERM $tpid 2>/dev/null
	wait $tpid 2>/dev/null
}

# crash NAME PORT: `soccr restore` stopped at its first connect() and killed; checks that
# the lock stays and that the client saw nothing.
crash() {
	local name=$1 port=$2 rst n
	# Not through in_ns (a function: $! would be a subshell). -Z root: Debian's tcpdump
	# otherwise writes the file as user tcpdump, which cannot write into $T. Immediate
	# mode: without it packets wait in the kernel up to a second, past our reading.
	nsenter --net="/run/netns/$C" tcpdump -Z root --immediate-mode -i eth0 -n -U -w "$d/peer.pcap" \
		"tcp port $port" >/dev/null 2>"$d/tcpdump.err" &
	tpid=$!
	pids+=($tpid)
	for _ in $(seq 500); do
		grep -q "listening on" "$d/tcpdump.err" 2>/dev/null && break
		sleep 0.01
	done

	# The shim stops the process just before the call; ASan (SAN build) wants its
	# runtime first in the preload list, which the shim is not.
	in_ns $S env LD_PRELOAD="$SHIM" SOCCR_FAULT=connect:1:stop \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		"$SOCCR" restore -i "$d/conn.img" --pin-dir "$PIN" -- "$H/echo_server" \
		>"$d/crash.out" 2>"$d/crash.err" &
	rst=$!
	pids+=($rst)
	# nsenter forks the command: the stopped process is its child.
	local victim=
	for _ in $(seq 1000); do
		victim=$(pgrep -P $rst -x soccr 2>/dev/null | head -n 1)
		[ -z "$victim" ] && [ "$(awk '{ print $2 }' /proc/$rst/stat 2>/dev/null)" = "(soccr)" ] &&
			victim=$rst
		[ -n "$victim" ] && [ "$(proc_state "$victim")" = T ] && break
		sleep 0.01
	done
	[ -n "$victim" ] && [ "$(proc_state "$victim")" = T ] ||
		die "$name: soccr restore did not stop at connect()"
	ok "$name: soccr restore stopped inside libsoccr_restore (pid $victim)"

	in_ns $S "$SOCCR" lock --pin-dir "$PIN" list >"$d/list1.out" 2>&1
	grep -q "^10.$net.77.1:$port " "$d/list1.out" && ok "$name: flow locked while restoring" ||
		die "$name: flow not listed while the restore is stopped"
	kill -KILL "$victim"
	wait "$rst" 2>/dev/null
	[ -e "/proc/$victim" ] && die "$name: pid $victim still there after SIGKILL"
	in_ns $S "$SOCCR" lock --pin-dir "$PIN" list >"$d/list2.out" 2>&1
	grep -q "^10.$net.77.1:$port " "$d/list2.out" &&
		ok "$name: the killed restore left the flow locked (soccr lock list)" ||
		die "$name: flow not listed after the kill"
	[ "$(ours eth0 ingress)" = 1 ] && [ "$(ours eth0 egress)" = 1 ] &&
		ok "$name: filters still on eth0" || die "$name: filters gone after the kill"
	kill -0 "$cli" 2>/dev/null && ok "$name: the client is still connected" ||
		die "$name: client gone: $(cat "$d/client.out")"

	# Give anything the dead process' socket might have sent time to reach C. The
	# capture goes on (written out packet by packet): see stop_capture.
	sleep 0.2
	n=$(tcpdump -n -r "$d/peer.pcap" 2>/dev/null | wc -l)
	[ "$n" = 0 ] && ok "$name: no segment of the flow reached the peer" ||
		die "$name: $n segment(s) reached the peer: $(tcpdump -n -r "$d/peer.pcap" 2>/dev/null | head -3)"
}

# ---- connection 1: crash, then restore again: the connection survives ------------------
prepare one 7101
crash one 7101
in_ns $S "$SOCCR" restore -i "$d/conn.img" --pin-dir "$PIN" -- "$H/echo_server" \
	>"$d/restore.out" 2>"$d/restore.err" &
rst=$!
pids+=($rst)
touch "$d/go2"
wait "$cli"
rc=$?
[ $rc -eq 0 ] && ok "one: restored again after the crash, every byte back: $(cat "$d/client.out")" ||
	die "one: client exit $rc"
wait "$rst" || die "one: second soccr restore / echo_server failed"
grep -q "flow unlocked" "$d/restore.err" && ok "one: the second restore unlocked the flow" ||
	die "one: restore report"
# The capture that saw nothing during the crash sees the connection once it goes on.
stop_capture
n=$(tcpdump -n -r "$d/peer.pcap" 2>/dev/null | wc -l)
[ "$n" -gt 0 ] && ok "one: the peer's capture works ($n segments after the second restore)" ||
	die "one: the peer's capture saw nothing at all"
in_ns $S "$SOCCR" lock --pin-dir "$PIN" list >"$d/list3.out" 2>&1
grep -q ":7101 " "$d/list3.out" && die "one: flow still locked" || ok "one: flow no longer listed"

# ---- connection 2: crash, then `soccr lock detach` removes what was left ----------------
prepare two 7102
crash two 7102
stop_capture
in_ns $S "$SOCCR" lock --pin-dir "$PIN" detach >"$d/detach.out" 2>&1 || die "two: detach"
in_ns $S "$SOCCR" lock --pin-dir "$PIN" list >"$d/list3.out" 2>"$d/list3.err" &&
	die "two: list after detach found a lock"
grep -q "no lock pinned" "$d/list3.err" && [ ! -s "$d/list3.out" ] &&
	ok "two: no lock after detach, nothing listed" || die "two: list after detach"
[ "$(in_ns $S "$SOCCR" lock status --json | jq '.hooks | length')" = 0 ] &&
	ok "two: no lock program on any device" || die "two: a lock program is left attached"
for dev in eth0 lo; do
	[ -z "$(in_ns $S tc filter show dev $dev ingress)$(in_ns $S tc filter show dev $dev egress)" ] &&
		ok "two: no filter left on $dev" || die "two: filter left on $dev"
	in_ns $S tc qdisc show dev $dev | grep -q clsact && die "two: clsact left on $dev" ||
		ok "two: no clsact left on $dev"
done
[ -e "$PIN" ] && die "two: pin dir $PIN left" || ok "two: pins removed"

echo "# fault_crash_restore: $pass checks passed"
