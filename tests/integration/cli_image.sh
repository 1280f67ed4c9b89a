#!/bin/bash
# CLI contract of show/save/restore: help, usage errors, show's text and JSON,
# malformed images rejected with exit 2 and one line naming the problem, and
# save refusing targets that are not checkpointable TCP sockets.
# Runs on the host without touching its network (no packet is sent).
set -u
SOCCR=${SOCCR:-build/soccr}
SRC=${SOCCR_SRC:-.}
BUILD=${SOCCR_BUILD:-build}
FIX=$SRC/tests/fuzz/corpus/image
[ -x "$SOCCR" ] || { echo "cli_image: no soccr binary at $SOCCR" >&2; exit 1; }
T=$(mktemp -d /tmp/soccr-cli-image.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
bad() { fail=$((fail + 1)); echo "not ok - $1"; [ -s "$T/err" ] && sed 's/^/#   /' "$T/err"; }

# run NAME WANT_STATUS [STDERR_REGEX] -- ARGS...: soccr ARGS must exit WANT_STATUS and, if a
# regex is given, print exactly one stderr line matching it.
run() {
	local name=$1 want=$2 re=$3 rc
	shift 4
	"$SOCCR" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "$name: exit $rc, want $want"
		return
	fi
	if [ -n "$re" ]; then
		if [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -Eq "$re" "$T/err"; then
			bad "$name: stderr is not one line matching /$re/"
			return
		fi
	fi
	ok "$name"
}

# ---- help and usage errors -------------------------------------------------------
run "soccr --help" 0 "" -- --help
for c in ps save restore show lock inject; do
	run "$c --help exits 0" 0 "" -- "$c" --help
	grep -q "usage: soccr $c" "$T/out" || bad "$c --help prints its usage"
done
for c in ps save restore show; do
	run "$c --bogus exits 2" 2 "^soccr: $c: unknown option '--bogus'" -- "$c" --bogus
done
run "ps without --pid" 2 "^soccr: ps: --pid is required" -- ps
run "ps of a missing process" 2 "^soccr: ps: pid 2147483646: No such process" -- ps --pid 2147483646
for c in lock inject; do
	run "$c --bogus exits 2" 2 "" -- "$c" --bogus
done
run "unknown command exits 2" 2 "^soccr: unknown command 'bogus'" -- bogus
run "demo is no command of the tool (soccr-demo is its own program)" 2 \
	"^soccr: unknown command 'demo'" -- demo
run "show without IMAGE" 2 "^soccr: show: missing IMAGE" -- show
run "show with two images" 2 "more than one IMAGE" -- show "$FIX/v4-established" x
run "save without arguments" 2 "^soccr: save: --pid and -o are required" -- save
run "save with a bad pid" 2 "^soccr: save: --pid: invalid value 'x'" -- save --pid x --fd 3 -o "$T/i"
run "save --pid without value" 2 "needs a value" -- save --pid
run "restore without -i" 2 "^soccr: restore: -i IMAGE is required" -- restore
run "restore with a stray argument" 2 "put the command after '--'" -- restore -i x cmd
run "restore with a missing command" 2 "^soccr: restore: /nonexistent/cmd: cannot be run .*No such file" \
	-- restore -i "$FIX/v4-established" -- /nonexistent/cmd
run "restore with a command not in PATH" 2 "soccr-no-such-cmd: command not found" \
	-- restore -i "$FIX/v4-established" -- soccr-no-such-cmd arg
run "restore --pcap without a value" 2 "^soccr: restore: option '--pcap' needs a value" \
	-- restore -i "$FIX/v4-established" --pcap
# A command that cannot run is refused before the restore (it would cost the connection):
# a directory, a script whose interpreter is missing, a name not on PATH.
mkdir -p "$T/cmd.d" && printf '#!/nonexistent/interp\n' >"$T/noint.sh" && chmod +x "$T/noint.sh"
run "restore -- a directory" 2 "cmd.d: cannot be run .*not a regular file" -- restore -i "$FIX/v4-established" -- "$T/cmd.d"
run "restore -- script without interpreter" 2 "noint.sh: cannot be run .*/nonexistent/interp: No such file" \
	-- restore -i "$FIX/v4-established" -- "$T/noint.sh"
run "restore -- unknown command" 2 "cannot be run .*command not found" -- restore -i "$FIX/v4-established" -- soccr-no-such-cmd

# ---- show ------------------------------------------------------------------------
# ---- global options, in any position ---------------------------------------------
run "--version" 0 "" -- --version
grep -Eq '^soccr [0-9]+\.[0-9]+\.[0-9]+ \(libsoccr [0-9]+\.[0-9]+\.[0-9]+\)$' "$T/out" &&
	ok "--version: soccr X.Y.Z (libsoccr X.Y.Z)" || bad "--version: $(cat "$T/out")"
cp "$T/out" "$T/version"
run "-V after a command" 0 "" -- show -V
cmp -s "$T/out" "$T/version" && ok "show -V prints the version" || bad "show -V: $(cat "$T/out")"
run "version --json" 0 "" -- version --json
want=$(sed -n 's/^#define SOCCR_VERSION_STRING "\(.*\)"/\1/p' "$SRC/include/soccr/version.h")
jq -e --arg v "$want" '.version == $v and .library == $v and (.kernel | length > 0) and
	(.features.tcp_repair.available | type == "boolean") and
	(.features.tcx.available | type == "boolean") and (.user_namespace | type == "boolean")' \
	"$T/out" >/dev/null && ok "version --json: versions $want, kernel, features" ||
	bad "version --json: $(cat "$T/out")"
run "version (text)" 0 "" -- version
grep -q "^  TCP_REPAIR  *yes" "$T/out" && ok "version: TCP_REPAIR yes as root" ||
	bad "version: $(cat "$T/out")"
run "show --json" 0 "" -- show --json "$FIX/v4-established"
cp "$T/out" "$T/compact"
run "-j before the command" 0 "" -- -j show "$FIX/v4-established"
cmp -s "$T/out" "$T/compact" && ok "soccr -j show = soccr show --json" || bad "-j before the command differs"
run "--pretty after the image" 0 "" -- show "$FIX/v4-established" --pretty
[ "$(wc -l <"$T/out")" -gt 10 ] && [ "$(jq -c . "$T/out")" = "$(jq -c . "$T/compact")" ] &&
	ok "--pretty: indented, the same document" || bad "--pretty: $(head -3 "$T/out")"
jq -e '.sockets[0].local | (.addr | type == "string") and (.port | type == "number")' "$T/compact" \
	>/dev/null && ok "endpoints as {addr, port}" || bad "endpoint shape: $(cat "$T/compact")"
run "-q is accepted anywhere" 0 "" -- show -q "$FIX/v4-established"
run "an unknown option before the command" 2 "unknown option '--bogus' before the command" -- --bogus show
run "ps takes the pid alone" 2 "^soccr: ps: pid 2147483646: No such process" -- ps 2147483646
run "ps: two pids" 2 "the pid given twice" -- ps --pid 1 2

run "show prints a v4 image" 0 "" -- show "$FIX/v4-established"
for re in '^state +ESTABLISHED \(1\)$' '^local +10\.0\.0\.1:80$' '^peer +10\.0\.0\.2:5555$' \
	'^recv queue +5 bytes, rcv_nxt 1000$' '^send queue +7 bytes \(3 never sent\), write_seq 2000$' \
	'^flags +locked' '^options +timestamps sack wscale$' '^window +snd_wl1 1, snd_wnd 65535'; do
	grep -Eq "$re" "$T/out" || bad "show text has /$re/"
done
run "show --json prints one object" 0 "" -- show --json "$FIX/mapped-closewait"
[ "$(wc -l <"$T/out")" -eq 1 ] || bad "show --json is one line"
for kv in '"state":"CLOSE_WAIT"' '"family":"inet6"' '"v4_mapped":true' \
	'"local":{"addr":"::ffff:10.0.0.1","port":8080}' '"inq_len":300' '"outq_len":0' \
	'"flags":["locked"]' '"window":{"snd_wl1":1,'; do
	grep -qF "$kv" "$T/out" || bad "show --json has $kv"
done
if command -v python3 >/dev/null; then
	python3 -c 'import json,sys; json.load(sys.stdin)' <"$T/out" && ok "show --json is valid JSON" ||
		bad "show --json is valid JSON"
fi
run "show - reads stdin" 0 "" -- show - <"$FIX/v6-empty"
grep -q '^state  *FIN_WAIT1' "$T/out" || bad "show - prints the image"

# ---- malformed images: exit 2, one line naming the problem -------------------------
img=$FIX/v4-established
size=$(stat -c %s "$img")
head -c 100 "$img" >"$T/short"
run "truncated header" 2 "short: truncated: file has 100 bytes" -- show "$T/short"
head -c 200 "$img" >"$T/trunc"
run "truncated body" 2 "trunc: truncated: header says $size bytes, file has 200" -- show "$T/trunc"
# patch FILE OFFSET HEXBYTES: overwrite bytes in place.
patch() { printf "$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none; }
cp "$img" "$T/crc" && patch "$T/crc" $((size - 1)) '\x5a'
run "bad CRC" 2 "crc: bad CRC: stored 0x" -- show "$T/crc"
cp "$img" "$T/body" && patch "$T/body" 220 '\xff'
run "flipped queue byte" 2 "body: bad CRC" -- show "$T/body"
cp "$img" "$T/ver" && patch "$T/ver" 8 '\x07'
run "wrong version" 2 "ver: unsupported version 7" -- show "$T/ver"
cp "$img" "$T/magic" && patch "$T/magic" 0 'X'
run "wrong magic" 2 "magic: bad magic" -- show "$T/magic"
cp "$img" "$T/huge" && patch "$T/huge" 16 '\xff\xff\xff\xff\xff\xff\xff\x7f'
run "huge total length" 2 "huge: too large: header says 9223372036854775807 bytes" -- show "$T/huge"
cp "$img" "$T/trail" && printf 'x' >>"$T/trail"
run "trailing data" 2 "trail: trailing data" -- show "$T/trail"
# Special files are refused before a byte is read (a FIFO would block, /dev/zero never end);
# a large file with a wrong magic is given up after its header.
mkfifo "$T/fifo"
run "FIFO as image" 2 "fifo: not a regular file" -- show "$T/fifo"
run "/dev/zero as image" 2 "/dev/zero: not a regular file" -- show /dev/zero
truncate -s 256M "$T/sparse"
run "256 MiB of zeros" 2 "sparse: bad magic" -- show "$T/sparse"
rm -f "$T/sparse"
: >"$T/empty"
run "empty file" 2 "empty: truncated: file has 0 bytes" -- show "$T/empty"
run "missing file" 1 "nope: No such file" -- show "$T/nope"
run "restore of a missing file" 1 "nope: No such file" -- restore -i "$T/nope"
# A single-valued option given twice is an error, not "the last one wins".
run "restore -i twice" 2 "restore: -i given twice" -- restore -i "$T/a" -i "$T/b"
run "the same --fd twice" 2 "save: --fd 3 given twice" -- save --pid 1 --fd 3 --fd 3 -o "$T/x"
run "--json with -o -" 2 "save: --json writes to stdout, where -o - writes the image" \
	-- save --pid 1 -o - --json
# Options anywhere, as GNU tools take them.
run "show IMAGE --json" 0 "" -- show "$FIX/v4-established" --json
grep -q '"state":"ESTABLISHED"' "$T/out" || bad "show IMAGE --json: not JSON: $(head -c 80 "$T/out")"
run "directory" 2 "is a directory" -- show "$T"
run "restore of a truncated image" 2 "^soccr: restore: .*trunc: truncated" -- restore -i "$T/trunc"

# ---- save refuses what is not a checkpointable TCP socket -------------------------
if [ "$(id -u)" -eq 0 ]; then
	run "save of a missing process" 2 "^soccr: save: pid 2147483646: No such process" \
		-- save --pid 2147483646 --fd 0 -o "$T/i"
	sleep 60 </dev/null &
	pids+=($!)
	run "save of a missing fd" 2 "fd 77 of pid $!: no such file descriptor" \
		-- save --pid $! --fd 77 -o "$T/i"
	run "save of a non-socket" 2 "fd 0 of pid $!: not a socket" -- save --pid $! --fd 0 -o "$T/i"
	# bash's /dev/udp opens a connected UDP socket (nothing is sent).
	sleep 60 5<>/dev/udp/127.0.0.1/9 &
	pids+=($!)
	pid_udp=$!
	run "save of a UDP socket" 2 "fd 5 of pid $!: not a TCP socket" -- save --pid $! --fd 5 -o "$T/i"
	"$BUILD/tests/helpers/echo_server" --listen 127.0.0.1:0 &
	pids+=($!)
	lfd=""
	for _ in $(seq 100); do
		lfd=$(ls -l /proc/$!/fd 2>/dev/null | awk '/socket:/ { print $9; exit }')
		[ -n "$lfd" ] && break
		sleep 0.05
	done
	run "a process with no TCP socket" 2 "pid $pid_udp holds no TCP socket to save" \
		-- save --pid $pid_udp -o "$T/i"
	[ ! -e "$T/i" ] || bad "a refused save writes no image"
	# A listener is saved (address, backlog, options), not paused: nothing to lock.
	run "save of a listening socket" 0 "" -- save --pid $! --fd "$lfd" -o "$T/l.img" --json
	jq -e '.sockets == 1 and .listeners == 1 and .connections == 0 and (.locked | not)' \
		"$T/out" >/dev/null && ok "save --json: one listener" || bad "save --json: $(cat "$T/out")"
	run "show of a saved listener" 0 "" -- show --json "$T/l.img"
	jq -e '.version == 2 and (.sockets | length) == 1 and .sockets[0].kind == "listener" and
		.sockets[0].local.addr == "127.0.0.1" and .sockets[0].backlog > 0 and
		.sockets[0].fd == '"$lfd" "$T/out" >/dev/null && ok "the listener's address and fd" ||
		bad "show of the listener: $(cat "$T/out")"
	# Without --fd: every TCP socket of the process (here: the listener alone).
	run "save of every socket" 0 "" -- save --pid $! -o - --skip-in-flight
	[ -s "$T/out" ] && head -c 8 "$T/out" | grep -q SOCCRIMG && ok "-o - writes the image to stdout" ||
		bad "-o -: no image on stdout"
	cp "$T/out" "$T/stdout.img"
	run "show - reads it back" 0 "" -- show - <"$T/stdout.img"
	grep -q "^socket      0: fd $lfd, listener$" "$T/out" && ok "show lists the listener" ||
		bad "show -: $(cat "$T/out")"
else
	echo "# SKIPPED: save target checks need root (pidfd_getfd)"
fi

echo "cli_image: $pass checks ok, $fail not ok"
[ "$fail" -eq 0 ]
