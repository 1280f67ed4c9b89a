#!/bin/bash
# `soccr lock` from the command line, in a private network namespace with a
# named pin dir (a lock shared on purpose): help and exit statuses, attach
# (twice), add/del/list (text and --json), a "crash" between add and del that
# leaves a lock list still shows and detach removes, detach cleanliness (no
# filter, no clsact, no pin), another tc filter surviving our detach,
# SOCCR_PIN_DIR. Run twice by the suite: with tcx (checked through `soccr
# lock status`) and with SOCCR_NO_TCX=1 (classic filters, checked with tc).
#
# Commands run under `nsenter --net` (not `ip netns exec`, which gives the
# command a private /sys where the host's bpffs, and so the pins, are absent).
set -u
SOCCR=${SOCCR:-build/soccr}
[ -x "$SOCCR" ] || { echo "lock_cli: no soccr binary at $SOCCR" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: lock_cli.sh needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi

NS=soccr-lockcli-$$
PIN=/sys/fs/bpf/soccr-test-$$-cli
PIN2=/sys/fs/bpf/soccr-test-$$-cli-env
T=$(mktemp -d /tmp/soccr-lock-cli.XXXXXX)
crash_pid=

cleanup() {
	[ -n "$crash_pid" ] && { kill -9 "$crash_pid"; wait "$crash_pid"; } 2>/dev/null
	# The namespace takes our filters with it; the pins are removed by hand.
	ip netns del "$NS" 2>/dev/null
	for d in "$PIN" "$PIN2"; do
		rm -f "$d/prog" "$d/flows" 2>/dev/null
		rmdir "$d" 2>/dev/null
	done
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

in_ns() { nsenter --net="/run/netns/$NS" "$@"; }

# run NAME WANT_STATUS STDERR_REGEX -- ARGS...: `soccr lock ARGS` (in the namespace, with our
# pin dir) must exit WANT_STATUS; with a regex, stderr must be exactly one matching line.
run() {
	local name=$1 want=$2 re=$3 rc
	shift 4
	in_ns "$SOCCR" lock --pin-dir "$PIN" "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "$name: exit $rc, want $want"
		return 1
	fi
	if [ -n "$re" ] && { [ "$(wc -l <"$T/err")" -ne 1 ] || ! grep -Eq -- "$re" "$T/err"; }; then
		bad "$name: stderr is not one line matching /$re/"
		return 1
	fi
	ok "$name"
}

# check NAME CMD...: the command must succeed.
check() {
	local name=$1
	shift
	if "$@" >"$T/err" 2>&1; then ok "$name"; else bad "$name"; fi
}

# How many lock programs sit at hook $2 of device $1: tc's own view for classic filters,
# the kernel's tcx query (through `lock status`) otherwise.
if [ "${SOCCR_NO_TCX:-0}" = 1 ]; then
	ours() { in_ns tc filter show dev "$1" "$2" | grep -c 'handle 0xc114'; }
else
	ours() {
		in_ns "$SOCCR" lock --pin-dir "$PIN" status --json 2>/dev/null |
			jq "[.hooks[] | select(.dev == \"$1\" and .hook == \"$2\" and .attach == \"tcx\")] | length"
	}
fi
no_clsact() { ! in_ns tc qdisc show dev "$1" | grep -q clsact; }

ip netns add "$NS" || exit 1
in_ns ip link set lo up
in_ns ip link add lc0 type veth peer name lc1 || exit 1
in_ns ip link set lc0 up
in_ns ip link set lc1 up
in_ns ip link add lcdown type veth peer name lcdown1 || exit 1	# stays down

# ---- help and usage errors ---------------------------------------------------------
run "help exits 0" 0 "" -- --help
grep -q "usage: soccr lock" "$T/out" || bad "help text on stdout"
run "no command is a usage error" 2 "" --
run "unknown command" 2 "unknown command 'frobnicate'" -- frobnicate
run "unknown option" 2 "unknown option" -- list --bogus
run "port 0" 2 "bad address" -- add 10.1.1.1:0 10.1.1.2:80
run "add wants two endpoints" 2 "want SADDR:SPORT DADDR:DPORT" -- add 10.0.0.1:1
run "add rejects a bad address" 2 "bad address '10.0.0.300:1'" -- add 10.0.0.300:1 10.0.0.2:2
run "add rejects a bad port" 2 "bad address" -- add 10.0.0.1:65536 10.0.0.2:2
run "add rejects mixed families" 2 "same address family" -- add 10.0.0.1:1 [fd00::2]:2
run "--json is global: add takes it (and still needs a lock)" 1 "no lock pinned" -- add --json 10.0.0.1:1 10.0.0.2:2
run "--attach only with add" 2 "--attach goes with 'add' only" -- list --attach
run "--no-mark-count only with attach" 2 "--no-mark-count goes with 'attach' only" -- --no-mark-count list
run "--dev only with attach" 2 "--dev goes with 'attach' only" -- list --dev lo
run "attach to a missing interface" 2 "interface 'nosuch0'" -- attach --dev nosuch0
run "list takes no argument" 2 "unexpected argument" -- list 10.0.0.1:1
if in_ns "$SOCCR" lock --pin-dir relative/dir list >"$T/out" 2>"$T/err"; then
	bad "relative pin dir accepted"
else
	[ $? -eq 2 ] && ok "relative pin dir is a usage error" || bad "relative pin dir: wrong status"
fi

# ---- no lock yet: reading or deleting fails and creates nothing ----------------------
run "list without a lock" 1 "no lock pinned in $PIN: run 'soccr lock --pin-dir" -- list
[ -s "$T/out" ] && bad "list without a lock printed something"
run "list --json without a lock" 1 "no lock pinned" -- list --json
run "del without a lock" 1 "no lock pinned" -- del 10.0.0.1:1 10.0.0.2:2
run "add without a lock" 1 "no lock pinned" -- add 10.0.0.1:1 10.0.0.2:2
run "status without a lock" 1 "" -- status
grep -q "^no lock in this network namespace nor in $PIN\$" "$T/out" && ok "status says there is none" ||
	bad "status without a lock: $(cat "$T/out")"
[ -e "$PIN" ] && bad "list/del/add/status created $PIN" || ok "list/del/add/status create nothing"

# ---- attach --------------------------------------------------------------------------
run "attach to every UP interface" 0 "" -- attach
for dev in lo lc0 lc1; do
	for hook in ingress egress; do
		[ "$(ours $dev $hook)" = 1 ] && ok "filter on $dev $hook" || bad "filter on $dev $hook"
	done
done
[ "$(ours lcdown ingress)" = 0 ] && ok "down interface left alone" || bad "down interface attached"
[ -e "$PIN/prog" ] && ok "pinned in $PIN" || bad "pins in $PIN"
run "status of a healthy lock" 0 "" -- status
grep -q "^hook: lc1 egress $([ "${SOCCR_NO_TCX:-0}" = 1 ] && echo clsact || echo tcx) prog id " \
	"$T/out" && ok "status names each hook" || bad "status hooks: $(cat "$T/out")"
run "attach twice is harmless" 0 "" -- attach
run "attach --dev twice is harmless" 0 "" -- attach --dev lo --dev lc0
[ "$(ours lo ingress)" = 1 ] && [ "$(ours lc0 egress)" = 1 ] && ok "still one filter per hook" ||
	bad "filters multiplied"

# ---- add / del / list ----------------------------------------------------------------
run "add a v4 flow" 0 "" -- add 10.1.2.3:40000 10.9.8.7:443
run "add a v6 flow" 0 "" -- add [fd00::1]:5555 [fd00::2]:80
run "add the v4 flow again, reversed" 0 "" -- add 10.9.8.7:443 10.1.2.3:40000
run "list" 0 "" -- list
[ "$(wc -l <"$T/out")" = 2 ] && ok "two flows listed" || bad "two flows listed"
grep -q '^10.1.2.3:40000 10.9.8.7:443 dropped_out=0 dropped_in=0 passed_out=0 passed_in=0$' \
	"$T/out" && ok "v4 line as added" || bad "v4 line as added: $(cat "$T/out")"
grep -q '^\[fd00::1\]:5555 \[fd00::2\]:80 ' "$T/out" && ok "v6 line" || bad "v6 line"
run "list --json" 0 "" -- list --json
if jq -e 'length == 2 and
	(map(select(.src == {"addr": "10.1.2.3", "port": 40000} and
		.dst == {"addr": "10.9.8.7", "port": 443})) | length) == 1 and
	(map(select(.src == {"addr": "fd00::1", "port": 5555} and
		.dst == {"addr": "fd00::2", "port": 80})) | length) == 1 and
	all(.[]; .dropped_out == 0 and .dropped_in == 0 and .passed_out == 0 and .passed_in == 0)' \
	"$T/out" >/dev/null; then ok "JSON lists both flows with counters"; else bad "JSON: $(cat "$T/out")"; fi
run "del the v4 flow by its reverse" 0 "" -- del 10.9.8.7:443 10.1.2.3:40000
run "del it again" 0 "" -- del 10.9.8.7:443 10.1.2.3:40000
run "list after del" 0 "" -- list
[ "$(wc -l <"$T/out")" = 1 ] && grep -q fd00::1 "$T/out" && ok "only the v6 flow left" ||
	bad "only the v6 flow left"

# ---- a process killed between add and del leaves its lock behind ---------------------
(
	in_ns "$SOCCR" lock --pin-dir "$PIN" add 10.5.5.5:1234 10.6.6.6:22 && touch "$T/added"
	exec sleep 60
	# never reached: the del that would have unlocked the flow
) &
crash_pid=$!
for _ in $(seq 100); do [ -e "$T/added" ] && break; sleep 0.05; done
kill -9 "$crash_pid"; wait "$crash_pid" 2>/dev/null; crash_pid=
run "list after the crash" 0 "" -- list
grep -q '^10.5.5.5:1234 10.6.6.6:22 ' "$T/out" && ok "the crashed process's flow is still locked" ||
	bad "crashed flow listed"
[ "$(ours lc0 ingress)" = 1 ] && ok "filters outlive the process" || bad "filters outlive"

# ---- someone else's filter, then detach -------------------------------------------------
# (with tcx the lock made no clsact qdisc: the other filter brings its own)
in_ns tc qdisc show dev lc0 | grep -q clsact || in_ns tc qdisc add dev lc0 clsact || exit 1
in_ns tc filter add dev lc0 ingress prio 200 protocol all u32 match u32 0 0 || exit 1
run "detach" 0 "" -- detach
for dev in lo lc1; do
	for hook in ingress egress; do
		[ -z "$(in_ns tc filter show dev $dev $hook)" ] && ok "no filter left on $dev $hook" ||
			bad "no filter left on $dev $hook"
	done
	no_clsact $dev && ok "clsact removed from $dev" || bad "clsact removed from $dev"
done
[ "$(ours lc0 ingress)" = 0 ] && [ "$(ours lc0 egress)" = 0 ] && ok "ours gone from lc0" ||
	bad "ours gone from lc0"
in_ns tc filter show dev lc0 ingress | grep -q 'u32' && ok "the u32 filter survives our detach" ||
	bad "u32 filter survives"
no_clsact lc0 && bad "clsact with a foreign filter removed" || ok "clsact kept for the u32 filter"
[ -e "$PIN" ] && bad "pin dir $PIN left" || ok "pin dir removed"
run "list after detach fails: no lock" 1 "no lock pinned" -- list
[ -s "$T/out" ] && bad "list after detach printed something"
run "detach with nothing attached" 0 "" -- detach

# ---- SOCCR_PIN_DIR -------------------------------------------------------------------------
if in_ns env SOCCR_PIN_DIR="$PIN2" "$SOCCR" lock add --attach 10.7.7.7:1 10.8.8.8:2 2>"$T/err" &&
	[ -e "$PIN2/prog" ] &&
	in_ns env SOCCR_PIN_DIR="$PIN2" "$SOCCR" lock list 2>"$T/err" | grep -q '^10.7.7.7:1 ' &&
	in_ns env SOCCR_PIN_DIR="$PIN2" "$SOCCR" lock detach 2>"$T/err" && [ ! -e "$PIN2" ]; then
	ok "SOCCR_PIN_DIR picks the pin dir"
else
	bad "SOCCR_PIN_DIR picks the pin dir"
fi

echo "# lock_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
