#!/bin/bash
# soccr inject --pcap: the file holds exactly the frames sent (--count of
# them), tcpdump opens it with the right link type, and tcpdump -vv finds
# every IPv4 header checksum and every TCP checksum correct, for IPv4 and
# IPv6, with and without payload, Ethernet (lo) and raw IP (tun) framing.
# Then the CLI's error cases and exit statuses (0 ok, 1 failed, 2 usage).
#
# Everything is sent inside a private network namespace (lo and a tun device),
# deleted by the trap whatever happens.
set -u

SOCCR=${SOCCR:?SOCCR must name the soccr binary (tests/run.sh sets it)}

if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: $0 needs root (network namespaces)" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
command -v tcpdump >/dev/null || { echo "FAIL: tcpdump not installed (make deps)" >&2; exit 1; }

ns="soccr-injpcap-$$"
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

ip netns add "$ns" || exit 1
ip -n "$ns" link set lo up || exit 1
ip -n "$ns" tuntap add dev tun0 mode tun && ip -n "$ns" link set tun0 up || exit 1

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
ko() { fail=$((fail + 1)); echo "FAIL $*"; }
inject() { ip netns exec "$ns" "$SOCCR" inject "$@"; }

# check_pcap NAME FILE COUNT LINKTYPE: tcpdump's verdict on every packet.
check_pcap() {
	local name=$1 file=$2 count=$3 linktype=$4 out hdr n correct bad
	out=$(tcpdump -vv -nn -S -r "$file" 2>"$tmp/hdr") || { ko "$name: tcpdump -r failed"; return 1; }
	hdr=$(cat "$tmp/hdr")
	# One line per packet starts with the timestamp.
	n=$(grep -cE '^[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]+ IP6? ' <<<"$out")
	correct=$(grep -cE 'cksum 0x[0-9a-f]{4} \(correct\)' <<<"$out")
	bad=$(grep -cE 'bad cksum|incorrect' <<<"$out")
	if [[ "$hdr" != *"link-type $linktype"* ]]; then
		ko "$name: link type: $hdr"
	elif [ "$n" -ne "$count" ]; then
		ko "$name: $n packets in $file, expected $count"
	elif [ "$correct" -ne "$count" ] || [ "$bad" -ne 0 ]; then
		ko "$name: $correct TCP checksums correct, $bad bad, of $count"
		echo "$out"
	else
		ok "$name: $count packets, link type $linktype, all checksums correct"
		return 0
	fi
	return 1
}

# expect_out NAME FILE PATTERN: tcpdump shows the fields we asked for.
expect_out() {
	if tcpdump -vv -nn -S -r "$2" 2>/dev/null | grep -qE -- "$3"; then
		ok "$1: shows '$3'"
	else
		ko "$1: '$3' not in"; tcpdump -vv -nn -S -r "$2"
	fi
}

# --- IPv4 on lo, FIN|ACK, 5 copies in one batch
if inject --src 10.9.8.7:4000 --dst 127.0.0.1:80 --seq 1000 --ack 2000 --flags fin,ack \
	--win 512 --ttl 33 --count 5 --pcap "$tmp/v4.pcap" >"$tmp/out"; then
	check_pcap "v4 fin,ack x5" "$tmp/v4.pcap" 5 EN10MB
	expect_out "v4 fin,ack" "$tmp/v4.pcap" \
		'10\.9\.8\.7\.4000 > 127\.0\.0\.1\.80: Flags \[F\.\], cksum 0x[0-9a-f]{4} \(correct\), seq 1000, ack 2000, win 512, length 0'
	expect_out "v4 ttl" "$tmp/v4.pcap" 'ttl 33,'
	grep -q '^sent 5 frames' "$tmp/out" && ok "v4: reports 5 frames sent" || ko "v4 output: $(cat "$tmp/out")"
else
	ko "v4 fin,ack: soccr inject failed"
fi

# The checker itself can fail: a copy with a broken IP and a broken TCP checksum.
# (record 1 starts at 24 + 16; IP checksum at Ethernet 14 + 10, TCP at 14 + 20 + 16)
if [ -f "$tmp/v4.pcap" ]; then
	cp "$tmp/v4.pcap" "$tmp/bad.pcap"
	printf '\x00\x00' | dd of="$tmp/bad.pcap" bs=1 seek=$((24 + 16 + 14 + 10)) conv=notrunc 2>/dev/null
	printf '\xff\xff' | dd of="$tmp/bad.pcap" bs=1 seek=$((24 + 16 + 14 + 20 + 16)) conv=notrunc 2>/dev/null
	if check_pcap "corrupted copy" "$tmp/bad.pcap" 5 EN10MB >/dev/null; then
		ko "checker: a corrupted capture passed"
	else
		fail=$((fail - 1)); ok "checker: a corrupted capture is caught"
	fi
fi

# --- Numbers: a leading zero is decimal (never octal), 0x is hexadecimal
if inject --src 10.9.8.7:04000 --dst 127.0.0.1:080 --seq 010 --ack 0x10 --flags ack \
	--win 0x200 --pcap "$tmp/num.pcap" >/dev/null; then
	expect_out "numbers: 010 is ten, 0x10 sixteen" "$tmp/num.pcap" \
		'10\.9\.8\.7\.4000 > 127\.0\.0\.1\.80: Flags \[\.\], cksum 0x[0-9a-f]{4} \(correct\), seq 10, ack 16, win 512,'
else
	ko "numbers: soccr inject failed"
fi

# --- --pcap writes a private file: 0600, never through a symlink, never another user's file,
#     never a device (refused before anything is sent)
args=(--src 10.9.8.7:4000 --dst 127.0.0.1:80 --seq 1 --ack 1)
umask 022
if inject "${args[@]}" --pcap "$tmp/new.pcap" >/dev/null &&
	[ "$(stat -c %a "$tmp/new.pcap")" = 600 ]; then
	ok "pcap: a new file is 0600"
else
	ko "pcap: new file mode $(stat -c %a "$tmp/new.pcap" 2>&1)"
fi
echo secret >"$tmp/target" && chmod 600 "$tmp/target" && ln -s "$tmp/target" "$tmp/link.pcap"
inject "${args[@]}" --pcap "$tmp/link.pcap" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] && [ "$(cat "$tmp/target")" = secret ] && grep -q "symbolic link" "$tmp/err" &&
	ok "pcap: a symlink is refused, its target untouched" || ko "pcap symlink: rc $rc, $(cat "$tmp/err")"
echo theirs >"$tmp/other.pcap" && chown nobody "$tmp/other.pcap"
inject "${args[@]}" --pcap "$tmp/other.pcap" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -ne 0 ] && [ "$(cat "$tmp/other.pcap")" = theirs ] && grep -q "another user" "$tmp/err" &&
	ok "pcap: another user's file is refused, untouched" || ko "pcap other user: rc $rc, $(cat "$tmp/err")"
echo old >"$tmp/mine.pcap" && chmod 644 "$tmp/mine.pcap"
if inject "${args[@]}" --pcap "$tmp/mine.pcap" >/dev/null && [ "$(stat -c %a "$tmp/mine.pcap")" = 600 ] &&
	check_pcap "pcap: our own file rewritten" "$tmp/mine.pcap" 1 EN10MB >/dev/null; then
	ok "pcap: our own 0644 file is made 0600 and rewritten"
else
	ko "pcap: own file: mode $(stat -c %a "$tmp/mine.pcap")"
fi
before=$(ip netns exec "$ns" cat /proc/net/dev | awk '/lo:/ {print $11}')
inject "${args[@]}" --pcap /dev/full >/dev/null 2>"$tmp/err"
rc=$?
after=$(ip netns exec "$ns" cat /proc/net/dev | awk '/lo:/ {print $11}')
[ $rc -ne 0 ] && [ "$before" = "$after" ] && grep -q "not a regular file" "$tmp/err" &&
	ok "pcap: /dev/full is refused before a frame is sent" ||
	ko "pcap /dev/full: rc $rc, lo tx $before -> $after, $(cat "$tmp/err")"

# --- IPv4 with an odd-length payload
if inject --src 10.9.8.7:4000 --dst 127.0.0.1:80 --seq 4294967295 --ack 7 --flags psh,ack \
	--data "hello" --pcap "$tmp/v4data.pcap" >/dev/null; then
	check_pcap "v4 5-byte payload" "$tmp/v4data.pcap" 1 EN10MB
	expect_out "v4 payload" "$tmp/v4data.pcap" 'Flags \[P\.\], cksum 0x[0-9a-f]{4} \(correct\), seq 4294967295:4, ack 7, .*length 5'
else
	ko "v4 payload: soccr inject failed"
fi

# --- IPv6 on lo, FIN|ACK x3 and with payload
if inject --src '[fd00:1::7]:4000' --dst '[::1]:80' --seq 1 --ack 2 --flags fin,ack --count 3 \
	--pcap "$tmp/v6.pcap" >/dev/null; then
	check_pcap "v6 fin,ack x3" "$tmp/v6.pcap" 3 EN10MB
	expect_out "v6 fin,ack" "$tmp/v6.pcap" 'fd00:1::7\.4000 > ::1\.80: Flags \[F\.\], cksum 0x[0-9a-f]{4} \(correct\), seq 1, ack 2'
else
	ko "v6 fin,ack: soccr inject failed"
fi
if inject --src '[fd00:1::7]:4000' --dst '[::1]:80' --seq 1 --ack 2 --flags fin,psh,ack \
	--data "odd-length payload!" --count 2 --pcap "$tmp/v6data.pcap" >/dev/null; then
	check_pcap "v6 19-byte payload x2" "$tmp/v6data.pcap" 2 EN10MB
else
	ko "v6 payload: soccr inject failed"
fi

# --- raw IP framing on a tun device (DLT_RAW)
if inject --dev tun0 --src 10.9.8.7:4000 --dst 10.9.8.8:80 --seq 5 --ack 6 --flags rst \
	--count 2 --pcap "$tmp/raw4.pcap" >/dev/null &&
	inject --dev tun0 --src '[fd00:1::7]:4000' --dst '[fd00:1::8]:80' --seq 5 --ack 6 \
	--data x --pcap "$tmp/raw6.pcap" >/dev/null; then
	check_pcap "tun v4 x2" "$tmp/raw4.pcap" 2 RAW
	check_pcap "tun v6" "$tmp/raw6.pcap" 1 RAW
else
	ko "tun: soccr inject failed"
fi

# --- exit statuses and one-line errors
# expect_rc NAME RC [ARGS...]: exit status RC; for errors exactly one line on stderr.
expect_rc() {
	local name=$1 want=$2 rc lines
	shift 2
	inject "$@" >"$tmp/stdout" 2>"$tmp/stderr"
	rc=$?
	lines=$(wc -l <"$tmp/stderr")
	if [ "$rc" -ne "$want" ]; then
		ko "$name: exit $rc, expected $want ($(cat "$tmp/stderr"))"
	elif [ "$want" -ne 0 ] && [ "$lines" -ne 1 ]; then
		ko "$name: $lines lines on stderr, expected one: $(cat "$tmp/stderr")"
	else
		ok "$name: exit $rc $(head -c 100 "$tmp/stderr")"
	fi
}
A=(--src 10.9.8.7:4000 --dst 127.0.0.1:80 --seq 1 --ack 2)
expect_rc "bad address" 2 --src 10.9.8:4000 --dst 127.0.0.1:80 --seq 1 --ack 2
expect_rc "bad port" 2 --src 10.9.8.7:65536 --dst 127.0.0.1:80 --seq 1 --ack 2
expect_rc "mixed families" 2 --src 10.9.8.7:4000 --dst '[::1]:80' --seq 1 --ack 2
expect_rc "missing --seq" 2 --src 10.9.8.7:4000 --dst 127.0.0.1:80 --ack 2
expect_rc "seq too large" 2 "${A[@]}" --seq 4294967296
expect_rc "bad flags" 2 "${A[@]}" --flags fin,bogus
expect_rc "count 0" 2 "${A[@]}" --count 0
expect_rc "mark and no-mark" 2 "${A[@]}" --mark 5 --no-mark
expect_rc "bad mac" 2 "${A[@]}" --dst-mac 00:11:22
expect_rc "stray argument" 2 "${A[@]}" extra
expect_rc "unknown option" 2 "${A[@]}" --bogus
expect_rc "empty --dev is invalid input, as for lock attach" 2 "${A[@]}" --dev ''
expect_rc "port 0 is invalid input" 2 --src 10.9.8.7:0 --dst 127.0.0.1:80 --seq 1 --ack 1
expect_rc "--dst-mac on tun" 2 "${A[@]}" --dev tun0 --dst-mac 02:00:00:00:00:01
expect_rc "unknown device" 1 "${A[@]}" --dev nosuchdev0
expect_rc "unwritable pcap" 1 "${A[@]}" --pcap /nonexistent-dir/x.pcap
# --verify is real (issue 5, tests/integration/verify_cli.sh): no socket at the 4-tuple is exit 3.
expect_rc "--verify, no socket" 3 "${A[@]}" --verify
expect_rc "--help" 0 --help
grep -q '^usage: soccr inject' "$tmp/stdout" && ok "--help prints usage on stdout" || ko "--help output"
# A failed device must not leave a half-written capture behind claiming packets.
inject "${A[@]}" --dev nosuchdev0 --pcap "$tmp/none.pcap" 2>/dev/null
[ ! -s "$tmp/none.pcap" ] && ok "no capture written when the device is unknown" ||
	ko "capture written for an unknown device"

echo "inject_pcap: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
