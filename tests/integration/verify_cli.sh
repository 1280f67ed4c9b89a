#!/bin/bash
# soccr inject --verify against a socket held by ANOTHER process (found by
# its 4-tuple through sock_diag): a FIN at the right sequence numbers is
# absorbed (exit 0, report line "absorbed", the holder sees CLOSE_WAIT), one
# at a wrong sequence number is not (exit 3, "not-absorbed: sequence"), the
# --json report parses, and --pcap writes the capture tcpdump reads. v4 and
# v6, in a private network namespace deleted by the trap whatever happens.
set -u

SOCCR=${SOCCR:?SOCCR must name the soccr binary (tests/run.sh sets it)}
HOLD=${SOCCR_BUILD:?SOCCR_BUILD must name the build dir}/tests/helpers/hold_socket

if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: $0 needs root (network namespaces)" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
[ -x "$HOLD" ] || { echo "FAIL: $HOLD not built" >&2; exit 1; }

ns="soccr-vcli-$$"
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up || exit 1

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }

# hold NAME ADDR: start a holder; sets srv cli rcv snd and the holder's pid.
hold() {
	local name=$1 addr=$2 line i
	ip netns exec "$ns" "$HOLD" "$addr" >"$tmp/$name.out" 2>&1 &
	holder=$!
	pids+=("$holder")
	for i in $(seq 100); do
		line=$(head -n1 "$tmp/$name.out" 2>/dev/null)
		[ -n "$line" ] && break
		sleep 0.05
	done
	[[ "$line" =~ ^server=([^ ]+)\ client=([^ ]+)\ rcv_nxt=([0-9]+)\ snd_nxt=([0-9]+)$ ]] ||
		{ ko "$name: holder did not start: $line"; return 1; }
	srv=${BASH_REMATCH[1]} cli=${BASH_REMATCH[2]} rcv=${BASH_REMATCH[3]} snd=${BASH_REMATCH[4]}
}

# final_state NAME: stop the holder, set state to the state it saw. (Not in a
# $(...) subshell: only this shell can wait for its child.)
final_state() {
	kill -TERM "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	state=$(sed -n 's/^state=//p' "$tmp/$1.out")
}

inject() { ip netns exec "$ns" "$SOCCR" inject "$@"; }

for fam in 4 6; do
	if [ $fam = 4 ]; then addr=127.0.0.1; else addr=::1; fi

	# Absorbed: the FIN from the client at the server's rcv_nxt, acking snd_nxt.
	hold "fin$fam" $addr || continue
	inject --src "$cli" --dst "$srv" --seq "$rcv" --ack "$snd" --flags fin,ack --verify \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	final_state "fin$fam"
	report=$(grep '^verify: ' "$tmp/err")
	if [ $rc -eq 0 ] && [[ "$report" == *"[FA] seq $rcv ack $snd: absorbed: ESTABLISHED -> CLOSE_WAIT"* ]] &&
		[ "$state" = CLOSE_WAIT ]; then
		ok "v$fam: FIN into another process's socket: exit 0, absorbed, holder in $state"
	else
		ko "v$fam: FIN absorbed: rc $rc, state '$state', report: $(cat "$tmp/err")"
	fi

	# Not absorbed: a sequence number 1000 ahead of rcv_nxt.
	hold "seq$fam" $addr || continue
	inject --src "$cli" --dst "$srv" --seq $(((rcv + 1000) % 4294967296)) --ack "$snd" \
		--flags fin,ack --verify >"$tmp/out" 2>"$tmp/err"
	rc=$?
	final_state "seq$fam"
	report=$(grep '^verify: ' "$tmp/err")
	if [ $rc -eq 3 ] && [[ "$report" == *": not-absorbed: sequence: "* ]] &&
		[[ "$report" == *"seen out 0, in 1 on lo"* ]] && [ "$state" = ESTABLISHED ]; then
		ok "v$fam: wrong sequence: exit 3, not-absorbed (sequence), holder still $state"
	else
		ko "v$fam: wrong sequence: rc $rc, state '$state', report: $(cat "$tmp/err")"
	fi
done

# --json parses, says absorbed; --pcap is the capture, readable by tcpdump.
hold json 127.0.0.1
if inject --src "$cli" --dst "$srv" --seq "$rcv" --ack "$snd" --flags fin,ack --verify --json \
	--pcap "$tmp/v.pcap" >"$tmp/json" 2>"$tmp/err"; then
	if python3 -m json.tool "$tmp/json" >/dev/null &&
		python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); s=d["segments"][0];
sys.exit(0 if d["absorbed"]==1 and s["verdict"]=="absorbed" and s["after"]["state"]=="CLOSE_WAIT"
and s["before"]["state"]=="ESTABLISHED" and s["seen"]["in"]==1
and s["src"]=={"addr":"127.0.0.1","port":int(sys.argv[2])}
and s["dst"]=={"addr":"127.0.0.1","port":int(sys.argv[3])} else 1)' "$tmp/json" "${cli##*:}" "${srv##*:}"; then
		ok "--json: valid JSON, absorbed, ESTABLISHED -> CLOSE_WAIT, endpoints as addr+port"
	else
		ko "--json: $(cat "$tmp/json")"
	fi
	out=$(tcpdump -nn -S -r "$tmp/v.pcap" 2>"$tmp/hdr")
	sport=${cli##*:} dport=${srv##*:}
	if grep -q 'link-type LINUX_SLL2' "$tmp/hdr" &&
		grep -qE "lo +In +IP 127\.0\.0\.1\.$sport > 127\.0\.0\.1\.$dport: Flags \[F\.\], seq $rcv, ack $snd" <<<"$out" &&
		grep -qE "IP 127\.0\.0\.1\.$dport > 127\.0\.0\.1\.$sport: Flags \[\.\], .*ack $((rcv + 1))" <<<"$out"; then
		ok "--pcap: tcpdump reads the injected FIN (lo In) and the socket's ACK of it"
	else
		ko "--pcap: $(cat "$tmp/hdr") $out"
	fi
else
	ko "--json run failed: $(cat "$tmp/err")"
fi
final_state json

# No such socket: exit 3, not-absorbed (socket).
inject --src 127.0.0.1:1 --dst 127.0.0.1:2 --seq 1 --ack 1 --flags fin,ack --verify \
	>/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -eq 3 ] && grep -q 'no TCP socket 127.0.0.1:2 <- 127.0.0.1:1' "$tmp/err"; then
	ok "no socket at the 4-tuple: exit 3, says so"
else
	ko "no socket: rc $rc: $(cat "$tmp/err")"
fi

# Usage errors.
# --json is global: without --verify it reports the frames sent.
if inject --src 127.0.0.1:1 --dst 127.0.0.1:2 --seq 1 --ack 1 --json >"$tmp/json" 2>"$tmp/err" &&
	jq -e '.frames == 1 and .dev == "lo" and .bytes == 54' "$tmp/json" >/dev/null; then
	ok "--json without --verify: the frames sent"
else
	ko "--json without --verify: $(cat "$tmp/json" "$tmp/err")"
fi
inject --src 127.0.0.1:1 --dst 127.0.0.1:2 --seq 1 --ack 1 --timeout 5 >/dev/null 2>&1
[ $? -eq 2 ] && ok "--timeout without --verify: exit 2" || ko "--timeout without --verify"
inject --src 127.0.0.1:1 --dst 127.0.0.1:2 --seq 1 --ack 1 --verify --count 2 >/dev/null 2>&1
[ $? -eq 2 ] && ok "--verify --count 2: exit 2" || ko "--verify --count 2"

echo "verify_cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
