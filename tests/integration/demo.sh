#!/bin/bash
# soccr-demo (tests/demo/), end to end, as `make demo` runs it:
#   test_demo_migrates_every_connection_ok: exit 0, a table whose every row is OK, every state
#     in all three families, the segments each half-closed state injects (restore --verify's
#     verdicts) all absorbed, every byte of the server's streams received, a pcap that tcpdump
#     reads with no RST in it, and nothing left behind (namespaces, locks, files)
#   test_demo_interrupted_leaves_nothing: SIGINT in the middle exits 1 and removes everything
#   test_demo_usage_errors_exit_2: bad options are usage errors, --help is not
# Env (tests/run.sh): SOCCR = the soccr tool the demo drives, SOCCR_BUILD = the build directory.
set -u

if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: the demo needs root (network namespaces, TCP_REPAIR, eBPF)" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
SOCCR=${SOCCR:-build/soccr}
DEMO=${SOCCR_BUILD:-build}/soccr-demo
[ -x "$DEMO" ] || { echo "FAIL: no $DEMO (make tests builds it)"; exit 1; }

tmp=$(mktemp -d /tmp/soccr-demo-test.XXXXXX)
bg=
cleanup() {
	[ -n "$bg" ] && kill -KILL "$bg" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# Everything a run of pid $1 (output in $2) could leave: its namespaces (and with them the
# locks, which the tool finds on their devices), any pin of that name, and its directory of
# files, a mkdtemp() name it prints first (never the guessable /tmp/soccr-demo-PID).
leftovers() {
	local dir
	dir=$(grep -o '/tmp/soccr-demo-[A-Za-z0-9]\{6\}' "$2" | head -1)
	[ -n "$dir" ] || echo "no image directory named in $2"
	ip netns list | grep -E "^soccr-demo-$1-" || true
	ls -d /sys/fs/bpf/soccr-demo-"$1"-* /tmp/soccr-demo-"$1" $dir 2>/dev/null || true
}

test_demo_migrates_every_connection_ok() {
	local out=$tmp/demo.out pcap=$tmp/demo.pcap rc rows ok rst4 rst6 pkts left
	echo "--- test_demo_migrates_every_connection_ok"
	"$DEMO" --soccr "$SOCCR" --pcap "$pcap" >"$out" 2>&1 &
	bg=$!
	wait "$bg"
	rc=$?
	cat "$out"
	[ $rc -eq 0 ] || fail "soccr-demo exited $rc"
	# Table rows: " NN  STATE  FAMILY  ...".
	rows=$(grep -cE '^ +[0-9]+  [A-Z_0-9]+ +(ipv4|ipv6|v4-mapped) ' "$out")
	ok=$(grep -E '^ +[0-9]+  [A-Z_0-9]+ +(ipv4|ipv6|v4-mapped) ' "$out" | grep -cE ' OK$')
	[ "$rows" -ge 21 ] || fail "only $rows table rows"
	[ "$ok" -eq "$rows" ] || fail "$ok of $rows rows OK"
	[ "$rows" -eq 24 ] || fail "$rows table rows, not 24"
	grep -q "^$rows of $rows connections OK" "$out" || fail "summary does not say all OK"
	# Every state in all three families; the segments the restore injected into each (the
	# design's table: an RTT ACK where data is unacked, the peer's FIN twice, the ACK of our
	# FIN), counted by soccr restore --verify and by the restored socket's kernel alike.
	for s in ESTABLISHED:0 FIN_WAIT1:1 FIN_WAIT2:1 CLOSE_WAIT:3 LAST_ACK:3 CLOSING:2 CLOSE:2 \
		SYN_SENT:0; do
		[ "$(grep -cE "^ +[0-9]+  ${s%:*} +(ipv4|ipv6|v4-mapped) +[0-9]+ +[0-9]+ +${s#*:} " \
			"$out")" -eq 3 ] || fail "${s%:*}: not 3 families with ${s#*:} segment(s) injected"
	done
	# Every injected segment was absorbed, as restore --verify proved.
	grep -E '^ +[0-9]+  [A-Z_0-9]+ ' "$out" | grep -q 'NOT absorbed' && fail "a segment was not absorbed"
	grep -qE '^\[9/11\] .*\(24 restored, 36 segments injected, 36 absorbed;' "$out" ||
		fail "restore --verify did not report 36 of 36 segments absorbed"
	# What was in flight at the save is in the image: the client's unread 3000 bytes, the
	# server's 6000 unacked ones.
	[ "$(grep -cE '^ +[0-9]+  (ESTABLISHED|FIN_WAIT1|CLOSE_WAIT|LAST_ACK|CLOSING) +[a-z0-9-]+ +3000 +6000 ' \
		"$out")" -eq 15 ] || fail "queues in the image are not 3000/6000 bytes"
	# Every byte of the server's streams (the sum of the script's parts) reached the client.
	grep -q "The client received 203016 bytes, all checked" "$out" ||
		fail "the client did not receive the 203016 bytes of the server's streams"
	# The capture opens, has the traffic, and not one RST (v4: flags byte; v6: fixed header).
	pkts=$(tcpdump -nr "$pcap" 2>/dev/null | wc -l)
	[ "$pkts" -gt 100 ] || fail "pcap has $pkts packets"
	rst4=$(tcpdump -nr "$pcap" 'tcp[tcpflags] & tcp-rst != 0' 2>/dev/null | wc -l)
	rst6=$(tcpdump -nr "$pcap" 'ip6 and ip6[6] == 6 and ip6[53] & 4 != 0' 2>/dev/null | wc -l)
	[ "$rst4" -eq 0 ] && [ "$rst6" -eq 0 ] || fail "pcap has RSTs: $rst4 IPv4, $rst6 IPv6"
	# Both families and the service address are on the wire.
	tcpdump -nr "$pcap" 'ip and host 10.199.0.10' 2>/dev/null | grep -q . || fail "no IPv4 traffic"
	tcpdump -nr "$pcap" 'ip6 and host fd99::10' 2>/dev/null | grep -q . || fail "no IPv6 traffic"
	left=$(leftovers "$bg" "$out")
	[ -z "$left" ] || fail "left behind: $left"
	bg=
}

test_demo_interrupted_leaves_nothing() {
	local out=$tmp/int.out rc left i
	echo "--- test_demo_interrupted_leaves_nothing"
	"$DEMO" --soccr "$SOCCR" >"$out" 2>&1 &
	bg=$!
	# Interrupt once the locks are attached: the most there is to clean up.
	for i in $(seq 1 200); do
		grep -q '^\[5/' "$out" 2>/dev/null && break
		sleep 0.05
	done
	grep -q '^\[5/' "$out" || fail "the demo never got to step 5"
	kill -INT "$bg"
	wait "$bg"
	rc=$?
	cat "$out"
	[ $rc -eq 1 ] || fail "interrupted demo exited $rc, not 1"
	grep -q 'interrupted by signal' "$out" || fail "no message about the interruption"
	left=$(leftovers "$bg" "$out")
	[ -z "$left" ] || fail "left behind after SIGINT: $left"
	bg=
}

test_demo_usage_errors_exit_2() {
	local rc
	echo "--- test_demo_usage_errors_exit_2"
	"$DEMO" --bogus >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "--bogus exited $rc"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "--bogus: not a one-line error"
	"$DEMO" extra >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "extra argument exited $rc"
	"$DEMO" --pcap >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "--pcap without FILE exited $rc"
	"$DEMO" --help >"$tmp/help" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "--help exited $rc"
	grep -q -- '--pcap FILE' "$tmp/help" || fail "--help does not document --pcap"
	grep -q -- '--soccr PATH' "$tmp/help" || fail "--help does not document --soccr"
	# The tool itself has no demo: it stays a thin CLI over the library.
	"$SOCCR" demo >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "soccr demo exited $rc, not 2 (unknown command)"
}

test_demo_usage_errors_exit_2
test_demo_migrates_every_connection_ok
test_demo_interrupted_leaves_nothing

if [ $fails -ne 0 ]; then
	echo "demo.sh: $fails failure(s)"
	exit 1
fi
echo "demo.sh: all passed"
