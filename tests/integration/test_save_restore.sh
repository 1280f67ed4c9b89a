#!/bin/bash
# Live migration of a real process's connection with the soccr tool, for IPv4,
# IPv6 and v4-mapped IPv6:
#
#   netns C (client, bridge br0) --- veth --- netns O (origin: echo_server)
#                                \--- veth --- netns D (destination)
#
# The origin server greets the client with 256 KiB that the client does not
# read yet (its window is tiny, so most of it sits in the server's send
# queue), the server is stopped, the client sends 10000 bytes (acked: they sit
# in the server's receive queue). `soccr save --pid --fd` locks the flow and
# writes the image; the server is killed; the service address moves from O to
# D (whose devices already carry the lock); `soccr restore -- echo_server`
# restores the socket in D and hands it to a new echo_server as fd 3. The
# client then reads the whole greeting and the echo of everything it sent,
# sends 64 KiB more, and closes: every byte in order, no reset, a clean FIN.
set -u
SOCCR=${SOCCR:-build/soccr}
BUILD=${SOCCR_BUILD:-build}
H=$BUILD/tests/helpers

if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: $0 needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
for f in "$SOCCR" "$H/echo_server" "$H/tcp_client"; do
	[ -x "$f" ] || { echo "test_save_restore: missing $f" >&2; exit 1; }
done

id=$$
C=soccr-sr$id-c O=soccr-sr$id-o D=soccr-sr$id-d
PIN=/sys/fs/bpf/soccr-sr$id
T=$(mktemp -d /tmp/soccr-save-restore.XXXXXX)
pids=()

cleanup() {
	for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	for ns in $C $O $D; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$PIN"; [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

die() {
	echo "not ok - $*"
	for f in "$T"/*/*.out "$T"/*/*.err; do
		[ -s "$f" ] && { echo "# $f:"; sed 's/^/#   /' "$f"; }
	done
	exit 1
}
. "${SOCCR_SRC:-.}/tests/lib/netns.sh"

# ---- topology -----------------------------------------------------------------------
bridge3 $C $O $D 10.99.0 fd00:99 || die "three namespaces on a bridge"
# The destination drops the flow's packets from the moment the address arrives there
# until the restored socket is ready (the flow entry is shared through the pin dir).
in_ns $D "$SOCCR" lock --pin-dir "$PIN" attach >/dev/null || die "lock attach in D"

# move_addr FROM TO CIDR: the service address changes hosts.
move_addr() {
	ip -n "$1" addr del "$3" dev eth0 || die "addr del $3"
	if [[ $3 == *:* ]]; then
		ip -n "$2" addr add "$3" dev eth0 nodad || die "addr add $3"
	else
		ip -n "$2" addr add "$3" dev eth0 || die "addr add $3"
	fi
	ip -n $C neigh flush dev br0
}

GREET=262144 SEND1=10000 SEND2=65536

# migrate NAME LISTEN CONNECT CIDR [same]: to D through the shared pin dir; with "same",
# back into O itself with O's own lock (no pin dir), which save attaches and restore,
# once its last flow is unlocked, detaches.
migrate() {
	local name=$1 listen=$2 connect=$3 cidr=$4 d=$T/$1 srv pid fd cli rst rc
	local dst=$D
	local -a pin=(--pin-dir "$PIN") via=()
	# ipv6: where ptrace is forbidden (seccomp), restore -- CMD takes its other way. (LeakSanitizer
	# stops the world with ptrace, so in the ASan build the leak check is off there.)
	[ "$name" = ipv6 ] && via=(env "ASAN_OPTIONS=${ASAN_OPTIONS:-}:detect_leaks=0" "$H/no_ptrace")
	[ "${5:-}" = same ] && { dst=$O; pin=(); }
	mkdir -p "$d"
	in_ns $O "$H/echo_server" --listen "$listen" --greet $GREET --sndbuf 1048576 \
		--ready "$d/ready" >"$d/origin.out" 2>&1 &
	srv=$!
	pids+=($srv)
	in_ns $C "$H/tcp_client" --connect "$connect" --dir "$d" --rcvbuf 4096 --greet $GREET \
		--send1 $SEND1 --send2 $SEND2 >"$d/client.out" 2>&1 &
	cli=$!
	pids+=($cli)
	wait_file "$d/ready"
	read -r pid fd <"$d/ready"
	# Stopped, the server cannot be halfway through handling bytes it has read.
	kill -STOP "$pid"
	touch "$d/go1"
	wait_file "$d/sent1"

	"$SOCCR" save --pid "$pid" --fd "$fd" -o "$d/conn.img" "${pin[@]}" \
		>"$d/save.out" 2>"$d/save.err" || die "$name: soccr save failed"
	grep -q "^saved .* ESTABLISHED to $d/conn.img: recv queue $SEND1 B, .*flow locked" \
		"$d/save.out" || die "$name: save report"
	"$SOCCR" show --json "$d/conn.img" >"$d/show.out" 2>&1 || die "$name: soccr show failed"
	grep -q '"state":"ESTABLISHED"' "$d/show.out" || die "$name: image state"
	grep -q "\"inq_len\":$SEND1," "$d/show.out" || die "$name: receive queue in the image"
	outq=$(grep -o '"outq_len":[0-9]*' "$d/show.out" | cut -d: -f2)
	# Most of the greeting never left: the client's window is a few KiB.
	[ "${outq:-0}" -gt $((GREET / 2)) ] || die "$name: send queue in the image is ${outq:-?} B"
	grep -q '"flags":\["locked"\]' "$d/show.out" || die "$name: image not marked locked"

	in_ns $O "$SOCCR" lock "${pin[@]}" list >"$d/locked.out" 2>&1
	grep -q ":${listen##*:} " "$d/locked.out" || die "$name: flow not locked after save"
	if [ $dst = $O ]; then
		in_ns $O "$SOCCR" lock status --json >"$d/status.out" 2>&1
		jq -e '.healthy and .owner == "auto" and .flows == 1' "$d/status.out" >/dev/null ||
			die "$name: the lock save attached is not O's own, marked auto"
	fi

	if [ "$name" = ipv4 ]; then
		# A second save that cannot write its image fails before touching anything:
		# the first image stays restorable (socket in repair mode, flow locked).
		"$SOCCR" save --pid "$pid" --fd "$fd" -o /nonexistent-dir/x.img "${pin[@]}" \
			>"$d/save2.out" 2>&1
		rc=$?
		[ $rc -eq 1 ] || die "$name: save to a bad path: exit $rc, want 1"
		grep -q "nothing was done" "$d/save2.out" || die "$name: save2: $(cat "$d/save2.out")"
		"$SOCCR" lock "${pin[@]}" list >"$d/locked.out" 2>&1
		grep -q ":${listen##*:} " "$d/locked.out" || die "$name: a failed second save unlocked the flow"
		# Saved again (the socket is in repair mode already): still locked afterwards.
		"$SOCCR" save --pid "$pid" --fd "$fd" -o "$d/conn2.img" "${pin[@]}" \
			>"$d/save3.out" 2>&1 || die "$name: second save: $(cat "$d/save3.out")"
		# The same sequence numbers and queues (the timestamp clock has moved on).
		seqs() { "$SOCCR" show --json "$1" | grep -oE '"(state|inq_len|inq_seq|outq_len|outq_seq|unsq_len)":[^,]*'; }
		cmp -s <(seqs "$d/conn.img") <(seqs "$d/conn2.img") ||
			die "$name: the second image's queues differ from the first's"
	fi

	kill -KILL "$pid"
	wait "$srv" 2>/dev/null
	if [ "$name" = ipv4 ]; then
		# Too early: the address is not in D yet. Restore fails, sends nothing, keeps the lock.
		in_ns $dst "$SOCCR" restore -i "$d/conn.img" "${pin[@]}" >"$d/early.out" 2>&1
		rc=$?
		[ $rc -eq 1 ] || die "$name: restore without the local address: exit $rc, want 1"
		[ "$(wc -l <"$d/early.out")" -eq 1 ] || die "$name: early restore: not one error line"
		"$SOCCR" lock "${pin[@]}" list >"$d/locked.out" 2>&1
		grep -q ":${listen##*:} " "$d/locked.out" || die "$name: a failed restore unlocked the flow"
	fi
	[ $dst = $D ] && move_addr $O $D "$cidr"

	if [ "$name" = ipv4 ] || [ "$name" = ipv6 ]; then
		# A command that passes every check but whose exec fails (ETXTBSY: the file is
		# open for writing): the socket is never handed over nor made live, the
		# restore exits 2, the flow stays locked, and the image restores again below.
		cp /bin/true "$d/busy" && chmod +x "$d/busy" || die "$name: copy /bin/true"
		exec 9>>"$d/busy"
		in_ns $dst "${via[@]}" "$SOCCR" restore -i "$d/conn.img" "${pin[@]}" -- "$d/busy" \
			>"$d/busy.out" 2>&1
		rc=$?
		exec 9>&-
		[ $rc -eq 2 ] || die "$name: restore with an exec that fails: exit $rc, want 2"
		grep -q "exec .*busy: Text file busy .*closed in repair mode" "$d/busy.out" ||
			die "$name: failed exec message"
		! grep -q "^restored" "$d/busy.out" || die "$name: the socket went live before exec"
		"$SOCCR" lock "${pin[@]}" list >"$d/locked.out" 2>&1
		grep -q ":${listen##*:} " "$d/locked.out" || die "$name: a failed exec unlocked the flow"
	fi

	# --verify/--pcap: ESTABLISHED injects nothing, so the verdicts say so; the pcap
	# file is written all the same (header only).
	in_ns $dst "${via[@]}" "$SOCCR" restore -i "$d/conn.img" "${pin[@]}" --verify --pcap "$d/restore.pcap" \
		-- "$H/echo_server" >"$d/restore.out" 2>"$d/restore.err" &
	rst=$!
	pids+=($rst)
	touch "$d/go2"
	wait "$cli"
	rc=$?
	[ $rc -eq 0 ] || die "$name: client exit $rc (data lost, reset or timeout)"
	wait "$rst"
	rc=$?
	[ $rc -eq 0 ] || die "$name: soccr restore / echo_server exit $rc"
	grep -q "^restored .* ESTABLISHED: recv queue $SEND1 B.*; flow unlocked" "$d/restore.err" ||
		die "$name: restore report"
	if [ $dst = $O ]; then
		grep -q "; flow unlocked, lock detached (no flow left)$" "$d/restore.err" ||
			die "$name: restore did not detach the lock save attached"
		in_ns $O "$SOCCR" lock status --json >"$d/status.out" 2>&1
		jq -e '(.found | not) and (.hooks | length) == 0' "$d/status.out" >/dev/null ||
			die "$name: a lock is left in O: $(cat "$d/status.out")"
	fi
	grep -q "^verify: no segment injected: ESTABLISHED connections and listeners need none" \
		"$d/restore.err" || die "$name: verdicts: $(cat "$d/restore.err")"
	if [ ${#via[@]} -gt 0 ]; then
		grep -q "; handed over untraced (ptrace not allowed here)$" "$d/restore.err" ||
			die "$name: no_ptrace did not make the restore take its untraced way"
	else
		! grep -q "untraced" "$d/restore.err" || die "$name: untraced though ptrace is allowed"
	fi
	[ "$(stat -c %s "$d/restore.pcap" 2>/dev/null || echo 0)" -ge 24 ] || die "$name: no pcap file"
	# Unlocked: the flow's entry is gone from the shared map.
	in_ns $dst "$SOCCR" lock "${pin[@]}" list >"$d/list.out" 2>&1
	! grep -q ":${listen##*:} " "$d/list.out" || die "$name: flow still locked"
	[ $dst = $D ] && move_addr $D $O "$cidr"
	echo "ok - $name: $(cat "$d/client.out")"
}

# First, while O has no lock of its own yet (the migrations to D attach the shared one there).
migrate same-netns 10.99.0.1:7004 10.99.0.1:7004 10.99.0.1/24 same
migrate ipv4 10.99.0.1:7001 10.99.0.1:7001 10.99.0.1/24
migrate ipv6 "[fd00:99::1]:7002" "[fd00:99::1]:7002" fd00:99::1/64
migrate v4-mapped "[::ffff:10.99.0.1]:7003" 10.99.0.1:7003 10.99.0.1/24
echo "test_save_restore: 4 migrations ok"
