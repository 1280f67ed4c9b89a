#!/bin/bash
# soccr demo, end to end, as `make demo` runs it:
#   test_demo_migrates_every_connection_ok: exit 0, a table whose every row is OK, a pcap that
#     tcpdump reads with no RST in it, and nothing left behind (namespaces, pins, files)
#   test_demo_interrupted_leaves_nothing: SIGINT in the middle exits 1 and removes everything
#   test_demo_usage_errors_exit_2: bad options are usage errors, --help is not
# Env (tests/run.sh): SOCCR = the soccr binary.
set -u

if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: the demo needs root (network namespaces, TCP_REPAIR, eBPF)" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
SOCCR=${SOCCR:-build/soccr}

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

# Everything a run of pid $1 (output in $2) could leave: its namespaces, lock pins and its
# image directory, a mkdtemp() name it prints first (never the guessable /tmp/soccr-demo-PID).
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
	"$SOCCR" demo --pcap "$pcap" >"$out" 2>&1 &
	bg=$!
	wait "$bg"
	rc=$?
	cat "$out"
	[ $rc -eq 0 ] || fail "soccr demo exited $rc"
	# Table rows: " NN  STATE  FAMILY  ...".
	rows=$(grep -cE '^ +[0-9]+  [A-Z_0-9]+ +(ipv4|ipv6|v4-mapped) ' "$out")
	ok=$(grep -E '^ +[0-9]+  [A-Z_0-9]+ +(ipv4|ipv6|v4-mapped) ' "$out" | grep -cE ' OK$')
	[ "$rows" -ge 21 ] || fail "only $rows table rows"
	[ "$ok" -eq "$rows" ] || fail "$ok of $rows rows OK"
	grep -q "^$rows of $rows connections OK" "$out" || fail "summary does not say all OK"
	for s in ESTABLISHED FIN_WAIT1 FIN_WAIT2 CLOSE_WAIT LAST_ACK CLOSING CLOSE; do
		[ "$(grep -cE "^ +[0-9]+  $s +(ipv4|ipv6|v4-mapped) " "$out")" -eq 3 ] ||
			fail "$s is not in the table for all three families"
	done
	# Every injected segment was absorbed, and only the half-closed states inject.
	grep -E '^ +[0-9]+  [A-Z_0-9]+ ' "$out" | grep -q 'NOT absorbed' && fail "a segment was not absorbed"
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
	"$SOCCR" demo >"$out" 2>&1 &
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
	"$SOCCR" demo --bogus >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc -eq 2 ] || fail "--bogus exited $rc"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "--bogus: not a one-line error"
	"$SOCCR" demo extra >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "extra argument exited $rc"
	"$SOCCR" demo --pcap >/dev/null 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "--pcap without FILE exited $rc"
	"$SOCCR" demo --help >"$tmp/help" 2>&1
	rc=$?
	[ $rc -eq 0 ] || fail "--help exited $rc"
	grep -q -- '--pcap FILE' "$tmp/help" || fail "--help does not document --pcap"
}

test_demo_usage_errors_exit_2
test_demo_migrates_every_connection_ok
test_demo_interrupted_leaves_nothing

if [ $fails -ne 0 ]; then
	echo "demo.sh: $fails failure(s)"
	exit 1
fi
echo "demo.sh: all passed"
