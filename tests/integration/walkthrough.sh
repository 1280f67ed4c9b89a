#!/bin/bash
# The README's walkthrough ("Five minutes: move a live connection"), its
# commands as written there (tests/unit/readme.sh checks that every command
# line of the README is in a test): a client talks to soccr-echo on host a,
# the server's socket is saved, the service address moves to host b, the
# connection is restored into a new soccr-echo on b, and the same connection
# goes on: the client's next line is answered by b, then both close cleanly.
set -u
cd "${SOCCR_SRC:-$(dirname "$0")/../..}"
BUILD=${SOCCR_BUILD:-$PWD/build}
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: $0 needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
T=$(mktemp -d /tmp/soccr-walkthrough.XXXXXX)
pids=()
cleanup() {
	exec 3>&- 2>/dev/null
	for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	pkill -9 -f 'soccr-echo --name [ab]' 2>/dev/null
	for ns in soccr-cl soccr-a soccr-b; do ip netns del "$ns" 2>/dev/null; done
	rm -f /tmp/soccr-echo.img
	rm -rf "$T"
}
trap cleanup EXIT
cleanup 2>/dev/null
T=$(mktemp -d /tmp/soccr-walkthrough.XXXXXX)
pass=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
die() { echo "not ok - $*"; exit 1; }
# wait_for FILE PATTERN: until a line of FILE matches (10 s).
wait_for() {
	for _ in $(seq 1000); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.01
	done
	die "timed out waiting for '$2' in $1: $(cat "$1")"
}

# ---- as in the README -------------------------------------------------------------------
export PATH="$PWD/build:$PATH"
# The build under test (build-san/ in the sanitizer run) comes first.
PATH="$BUILD:$PATH"
set -e
ip netns add soccr-cl
ip netns add soccr-a
ip netns add soccr-b
ip -n soccr-cl link add br0 type bridge
ip -n soccr-cl link set br0 up
ip -n soccr-cl addr add 10.0.0.1/24 dev br0
for h in a b; do
	ip -n soccr-cl link add "to-$h" type veth peer name eth0 netns "soccr-$h"
	ip -n soccr-cl link set "to-$h" master br0 up
	ip -n "soccr-$h" link set eth0 up
done
ip -n soccr-a addr add 10.0.0.2/24 dev eth0
set +e
ok "three hosts on a bridge"

ip netns exec soccr-a soccr-echo --name a listen 10.0.0.2:7000 &
pids+=($!)
for _ in $(seq 1000); do
	[ -n "$(ip netns exec soccr-a ss -Htln 'sport = :7000')" ] && break
	sleep 0.01
done

# The client, its lines typed through a FIFO.
mkfifo "$T/in"
ip netns exec soccr-cl soccr-echo connect 10.0.0.2:7000 <"$T/in" >"$T/out" 2>"$T/err" &
client=$!
pids+=($client)
exec 3>"$T/in"
echo hello >&3
wait_for "$T/out" "^a: hello$"
port=$(ip netns exec soccr-cl ss -Htn state established 'dport = :7000' | awk '{print $3}')
[ -n "$port" ] || die "no client connection"
ok "the client talks to a: $(cat "$T/out")"

pid=$(pgrep -f 'soccr-echo --name a')
soccr ps "$pid" >"$T/ps" || die "soccr ps: $(cat "$T/ps")"
grep -q "ESTABLISHED.*save" "$T/ps" && grep -q "LISTEN" "$T/ps" || die "soccr ps: $(cat "$T/ps")"
ok "soccr ps shows the listener and the connection"
sed 's/^/# /' "$T/ps"
ip netns exec soccr-a soccr save --pid "$pid" -o /tmp/soccr-echo.img >"$T/save" ||
	die "save: $(cat "$T/save")"
grep -q "^saved 2 sockets of pid $pid to /tmp/soccr-echo.img: 1 connection (ESTABLISHED 1), 1 listener; flows locked$" \
	"$T/save" || die "save said: $(cat "$T/save")"
ok "$(cat "$T/save")"
kill "$pid"
ip netns exec soccr-b soccr lock add --attach --image /tmp/soccr-echo.img ||
	die "lock add --image"
ip -n soccr-a addr del 10.0.0.2/24 dev eth0
ip -n soccr-b addr add 10.0.0.2/24 dev eth0
ip -n soccr-cl neigh flush dev br0
# A line sent while nothing serves it: held by b's lock, answered after the restore.
echo while-moving >&3
# (3>&-: the client's input FIFO stays open in the test only, not in b.)
ip netns exec soccr-b soccr restore -i /tmp/soccr-echo.img -- soccr-echo --name b 3>&- 2>"$T/restore" &
pids+=($!)
wait_for "$T/restore" "^restored"
grep -q "^restored 2 sockets: 1 connection (ESTABLISHED 1), 1 listener; flows unlocked, lock detached (no flow left)$" \
	"$T/restore" || die "restore said: $(cat "$T/restore")"
ok "$(cat "$T/restore")"
echo again >&3
wait_for "$T/out" "^b: again$"
grep -qx "b: while-moving" "$T/out" || die "the line sent during the move: $(cat "$T/out")"
now=$(ip netns exec soccr-cl ss -Htn state established 'dport = :7000' | awk '{print $3}')
[ "$now" = "$port" ] || die "the client's connection changed: $port, now $now"
ok "the same connection ($port), now answered by b, the line sent during the move too"

# New clients reach the restored listener.
echo new | ip netns exec soccr-cl soccr-echo connect 10.0.0.2:7000 >"$T/new" ||
	die "a new client: $(cat "$T/new")"
[ "$(cat "$T/new")" = "b: new" ] && ok "a new client is served by b" || die "new client: $(cat "$T/new")"

# The end of the input: the client shuts down, b closes, the client exits 0 (no reset).
exec 3>&-
wait "$client" || die "the client: exit $?: $(cat "$T/err")"
ok "clean close: $(tr '\n' '|' <"$T/out")"
[ "$(ip netns exec soccr-b soccr lock status >/dev/null 2>&1; echo $?)" = 1 ] &&
	ok "b's lock is gone (detached by the restore)" || die "b still has a lock"
ip netns exec soccr-a soccr lock detach || die "lock detach on a"
for ns in soccr-cl soccr-a soccr-b; do ip netns del "$ns"; done
[ -z "$(ip netns list | grep -E '^soccr-(cl|a|b)( |$)')" ] && ok "the README's clean-up" || die "namespaces left"
echo "# walkthrough: $pass passed"
