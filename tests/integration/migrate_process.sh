#!/bin/bash
# A whole server moves between hosts: one process (tests/helpers/multi_server)
# with a listener and four connections, three ESTABLISHED and one half-closed
# by its client (CLOSE_WAIT), every one with data in flight both ways (the
# server's greeting stuck behind the client's small window, the client's
# bytes unread in the server's receive queue). `soccr save --pid` takes all
# five in one image and one lock batch; the server dies; the service address
# moves to another namespace; `soccr restore -- multi_server` hands all five
# to a new server. Every client then reads every byte it is owed and sees a
# clean close, no reset; a new client is served by the restored listener.
# Before that, all or nothing: a restore whose listener cannot bind (the port
# is taken on the destination) fails with no socket live, every flow still
# locked, and the same image restores afterwards. Both restores run on three
# threads (--threads 3; five sockets would get one by default), each with
# its own injection session: the parallel path, the failure stopping it.
set -u
SOCCR=${SOCCR:-build/soccr}
H=${SOCCR_BUILD:-build}/tests/helpers
[ -x "$SOCCR" ] || { echo "migrate_process: no soccr at $SOCCR" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: migrate_process.sh needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi

id=$$
C=smc$id O=smo$id D=smd$id
PIN=/sys/fs/bpf/soccr-mp$id
T=$(mktemp -d /tmp/soccr-migrate.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in $C $O $D; do ip netns del "$ns" 2>/dev/null; done
	rm -f "$PIN/prog"; rmdir "$PIN" 2>/dev/null
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
die() {
	echo "not ok - $*"
	for f in "$T"/*.out "$T"/*.err "$T"/c*/out; do
		[ -s "$f" ] && { echo "# $f:"; sed 's/^/#   /' "$f"; }
	done
	exit 1
}
. "${SOCCR_SRC:-.}/tests/lib/netns.sh"

# ---- three hosts on a bridge ----------------------------------------------------------
bridge3 $C $O $D 10.98.0 || die "three namespaces on a bridge"
# One lock shared by origin and destination: the flows save locks are locked in both.
in_ns $D "$SOCCR" lock --pin-dir "$PIN" attach >/dev/null || die "lock attach in D"

GREET=131072 SEND1=6000 SEND2=32768 SVC=10.98.0.1:7300

# ---- the server and its clients -------------------------------------------------------
in_ns $O "$H/multi_server" --listen $SVC --conns 4 --ready "$T/ready" --greet $GREET \
	--sndbuf 1048576 >"$T/origin.out" 2>&1 &
pids+=($!)
for i in 1 2 3 4; do
	mkdir -p "$T/c$i"
	extra=()
	[ $i = 4 ] && extra=(--shut-early)
	in_ns $C "$H/tcp_client" --connect $SVC --dir "$T/c$i" --rcvbuf 4096 --greet $GREET \
		--send1 $SEND1 --send2 $SEND2 "${extra[@]}" >"$T/c$i/out" 2>&1 &
	cli[$i]=$!
	pids+=($!)
done
wait_file "$T/ready"
srv=$(cat "$T/ready")
for i in 1 2 3 4; do touch "$T/c$i/go1"; done
for i in 1 2 3 4; do wait_file "$T/c$i/sent1"; done
# The half-closed one reaches CLOSE_WAIT on the server's side once its FIN is in.
for _ in $(seq 500); do
	[ "$(in_ns $O ss -Htn state close-wait | wc -l)" -ge 1 ] && break
	sleep 0.01
done
# Stopped, the server cannot be halfway through handling bytes it has read.
kill -STOP "$srv"

# ---- what soccr ps sees, then save all of it ----------------------------------------------------
"$SOCCR" ps --pid "$srv" --json >"$T/ps.out" 2>&1 || die "soccr ps"
jq -e --argjson q $SEND1 'length == 5 and
	([.[] | select(.save == "save" and .recv_q == $q and .send_q > 0)] | length) == 4 and
	([.[] | select(.state == "CLOSE_WAIT")] | length) == 1 and
	([.[] | select(.state == "LISTEN" and .save == "re-create" and .accept_queue == 0 and
		.local.port == 7300)] | length) == 1' "$T/ps.out" >/dev/null ||
	die "ps --json: $(cat "$T/ps.out")"
ok "ps: 4 connections to save, with their queues, and the listener to re-create"
"$SOCCR" ps --pid "$srv" >"$T/ps.txt" 2>&1 || die "soccr ps (text)"
[ "$(grep -c ' save: connection$' "$T/ps.txt")" = 4 ] && grep -q ' LISTEN .* re-create: ' "$T/ps.txt" ||
	die "ps text: $(cat "$T/ps.txt")"

"$SOCCR" save --pid "$srv" -o "$T/srv.img" --pin-dir "$PIN" --json >"$T/save.out" 2>"$T/save.err" ||
	die "soccr save --pid failed"
jq -e '.sockets == 5 and .connections == 4 and .listeners == 1 and .states.ESTABLISHED == 3 and
	.states.CLOSE_WAIT == 1 and .locked' "$T/save.out" >/dev/null ||
	die "save summary: $(cat "$T/save.out")"
ok "save --pid: 5 sockets (3 ESTABLISHED, 1 CLOSE_WAIT, 1 listener), flows locked"
"$SOCCR" show --json "$T/srv.img" >"$T/show.out" 2>&1 || die "show"
jq -e --argjson pid "$srv" '.version == 2 and .pid == $pid and (.sockets | length) == 5 and
	([.sockets[] | select(.kind == "connection" and .inq_len > 0 and .outq_len > 0)] | length) == 4 and
	([.sockets[] | select(.kind == "listener" and .local.port == 7300)] | length) == 1' \
	"$T/show.out" >/dev/null || die "show --json of the set: $(cat "$T/show.out")"
ok "the image holds every connection with data both ways, and the listener"
n=$(in_ns $O "$SOCCR" lock --pin-dir "$PIN" list | grep -c ":7300 ")
[ "$n" = 4 ] && ok "4 flows locked" || die "$n flows locked, want 4"

kill -KILL "$srv"
ip -n $O addr del 10.98.0.1/24 dev eth0 || die "addr del"
ip -n $D addr add 10.98.0.1/24 dev eth0 || die "addr add"
ip -n $C neigh flush dev br0

# ---- all or nothing: the listener's port is taken on D ----------------------------------------
nsenter --net=/run/netns/$D "$H/echo_server" --listen $SVC 2>"$T/blocker.err" &
blocker=$!
pids+=($blocker)
for _ in $(seq 500); do
	[ -n "$(in_ns $D ss -Htln "sport = :7300")" ] && break
	sleep 0.01
done
in_ns $D "$SOCCR" -q restore -i "$T/srv.img" --pin-dir "$PIN" --threads 3 -- "$H/multi_server" \
	>"$T/fail.out" 2>&1
rc=$?
[ $rc = 1 ] || die "restore with the port taken: exit $rc, want 1"
grep -q "listener 10.98.0.1:7300: bind: Address already in use" "$T/fail.out" &&
	grep -q "no socket went live" "$T/fail.out" || die "the failed restore's message"
n=$(in_ns $D "$SOCCR" lock --pin-dir "$PIN" list | grep -c ":7300 ")
[ "$n" = 4 ] || die "after the failed restore, $n flows locked, want 4"
[ "$(in_ns $D ss -Htn state established | wc -l)" = 0 ] || die "a connection went live"
ok "a failed restore leaves no socket live and every flow locked (its errors printed under -q)"
kill -9 $blocker
wait $blocker 2>/dev/null

# ---- restore all of it ------------------------------------------------------------------------
# With --json and a command, the summary is one JSON line on stderr (stdout is the command's).
in_ns $D "$SOCCR" restore -i "$T/srv.img" --pin-dir "$PIN" --json --threads 3 -- "$H/multi_server" \
	--greet $GREET --sndbuf 1048576 >"$T/restore.out" 2>"$T/restore.err" &
rst=$!
pids+=($rst)
for _ in $(seq 500); do grep -q '^{"sockets"' "$T/restore.err" 2>/dev/null && break; sleep 0.01; done
grep '^{' "$T/restore.err" | jq -e '.sockets == 5 and .connections == 4 and .listeners == 1 and
	.states == {"ESTABLISHED": 3, "CLOSE_WAIT": 1} and .unlocked and (.lock_detached | not)' \
	>/dev/null || die "restore report: $(cat "$T/restore.err")"
ok "restore: 5 sockets handed to a new server, flows unlocked (JSON summary, counts per state)"
for i in 1 2 3 4; do touch "$T/c$i/go2"; done
for i in 1 2 3 4; do
	wait "${cli[$i]}"
	rc=$?
	[ $rc = 0 ] || die "client $i: exit $rc (data lost, reset or timeout)"
done
ok "every client got every byte and a clean close: $(cat "$T/c1/out"); $(cat "$T/c4/out")"
mkdir -p "$T/c5"
touch "$T/c5/go1" "$T/c5/go2"
in_ns $C "$H/tcp_client" --connect $SVC --dir "$T/c5" --greet $GREET --send1 100 --send2 1000 \
	>"$T/c5/out" 2>&1 || die "a new client of the restored listener"
ok "the restored listener serves a new client: $(cat "$T/c5/out")"
n=$(in_ns $D "$SOCCR" lock --pin-dir "$PIN" list 2>/dev/null | grep -c ":7300 ")
[ "$n" = 0 ] || die "$n flows still locked"
echo "# migrate_process: $pass passed"
