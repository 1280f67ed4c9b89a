#!/bin/bash
# The README's examples outside the walkthrough (which is walkthrough.sh), run
# as written there, in a network namespace of the test's own with only lo up:
# the lock commands, the injector, a half-closed connection restored with
# --verify and --pcap, version. tests/unit/readme.sh checks that every command
# line of the README is in a test; this one checks what they do.
set -u
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: $0 needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
src=${SOCCR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SOCCR_BUILD:-$src/build}

if [ -z "${SOCCR_RX_INNER:-}" ]; then
	ns=soccr-rx-$$
	T=$(mktemp -d /tmp/soccr-readme.XXXXXX)
	# Whatever still runs in the namespace (a restored server) goes with it.
	trap 'ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null; rm -rf "$T"' EXIT
	ip netns add "$ns" || exit 1
	ip -n "$ns" link set lo up || exit 1
	cd "$T" || exit 1
	ip netns exec "$ns" env SOCCR_RX_INNER=1 PATH="$BUILD:$PATH" bash "$src/tests/integration/readme_examples.sh"
	exit $?
fi

# ---- inside the namespace, in a scratch directory ---------------------------------------
pass=0
bg=()
trap 'for p in "${bg[@]}"; do kill -9 "$p" 2>/dev/null; done; soccr lock detach >/dev/null 2>&1' EXIT
ok() { pass=$((pass + 1)); echo "ok - $*"; }
die() { echo "not ok - $*"; exit 1; }
# expect FILE PATTERN WHAT: a line of FILE matches the extended regex.
expect() { grep -Eq -- "$2" "$1" || die "$3: $(cat "$1")"; ok "$3"; }
wait_for() {
	for _ in $(seq 1000); do
		eval "$1" && return 0
		sleep 0.01
	done
	die "timed out: $1"
}

# The lock (README "soccr lock").
{
soccr lock attach
soccr lock add 10.0.0.1:5000 10.0.0.2:80
soccr lock add '[fd00::1]:5000' '[fd00::2]:80'
soccr lock list
} >lock.out 2>&1 || die "lock commands: $(cat lock.out)"
expect lock.out '^10\.0\.0\.1:5000 10\.0\.0\.2:80 dropped_out=0 dropped_in=0 passed_out=0 passed_in=0$' "lock list: the IPv4 flow"
expect lock.out '^\[fd00::1\]:5000 \[fd00::2\]:80 dropped_out=0' "lock list: the IPv6 flow"
soccr lock list --json >list.json || die "lock list --json"
[ "$(jq -r '.[0].src.addr, .[0].src.port, .[0].dst.addr, (length)' list.json | tr '\n' ' ')" = "10.0.0.1 5000 10.0.0.2 2 " ] &&
	ok "lock list --json: endpoints as {addr, port}" || die "lock list --json: $(cat list.json)"
soccr lock status >status.out || die "lock status: exit $?: $(cat status.out)"
expect status.out '^hook: lo ingress' "lock status: attached on lo"
expect status.out '^flows: 2 ' "lock status: 2 flows"
soccr lock del 10.0.0.2:80 10.0.0.1:5000 || die "lock del"
[ "$(soccr lock list | wc -l)" = 1 ] && ok "lock del: either orientation" || die "lock del left $(soccr lock list)"
soccr lock detach || die "lock detach"
soccr lock status >/dev/null 2>&1
[ $? = 1 ] && ok "lock detach: no lock left" || die "a lock is left"

# The injector (README "soccr inject").
soccr inject --src 10.0.0.2:5000 --dst 127.0.0.1:8080 --seq 1000 --ack 2000 \
	--flags fin,ack --count 3 --pcap fin.pcap >inject.out || die "inject: $(cat inject.out)"
expect inject.out '^sent 3 frames \(54 bytes\) on lo: 10\.0\.0\.2:5000 > 127\.0\.0\.1:8080 \[FA\] seq 1000 ack 2000 win 65535 len 0$' \
	"inject: 3 frames on lo"
tcpdump -nn -S -r fin.pcap >fin.txt 2>/dev/null || die "tcpdump -r fin.pcap"
[ "$(grep -c '10.0.0.2.5000 > 127.0.0.1.8080: Flags \[F.\], seq 1000, ack 2000, win 65535, length 0' fin.txt)" = 3 ] &&
	ok "inject --pcap: the 3 frames as sent" || die "fin.pcap: $(cat fin.txt)"
soccr inject --src '[fd00::2]:5000' --dst '[::1]:8080' --seq 1 --ack 1 --data hi >inject6.out ||
	die "inject IPv6: $(cat inject6.out)"
expect inject6.out '^sent 1 frame \(76 bytes\) on lo: \[fd00::2\]:5000 > \[::1\]:8080 \[A\] seq 1 ack 1 win 65535 len 2$' \
	"inject: IPv6 with a payload"
soccr inject --src 10.0.0.2:5000 --dst '[::1]:8080' --seq 1 --ack 1; echo $? >mixed.out
expect mixed.out '^2$' "inject: mixed families is a usage error"

# A half-closed connection, restored with --verify (README "Verification").
soccr-echo --name a --keep-open listen 127.0.0.1:7000 &
server=$!
bg+=("$server")
wait_for "[ -n \"\$(ss -Htln 'sport = :7000')\" ]"
printf 'last words\n' | soccr-echo connect 127.0.0.1:7000 >client.out &
client=$!
bg+=("$client")
wait_for "[ -n \"\$(ss -Htn state close-wait 'sport = :7000')\" ]"
expect client.out '^a: last words$' "the client's last line answered, its side closed"
soccr ps $server >ps.out || die "soccr ps"
soccr ps --json $server >ps.json || die "soccr ps --json"
expect ps.out '^4 +inet +CLOSE_WAIT +127\.0\.0\.1:7000 +127\.0\.0\.1:[0-9]+ +0 +0 +[0-9]+ +[0-9]+ +save: connection$' \
	"ps: the half-closed connection, to be saved"
soccr save --pid $server -o half.img >save.out || die "save: $(cat save.out)"
expect save.out "^saved 2 sockets of pid $server to half.img: 1 connection \(CLOSE_WAIT 1\), 1 listener; flows locked$" \
	"save: the listener and the CLOSE_WAIT connection"
kill $server
soccr show half.img >show.out || die "show"
soccr show --json half.img >show.json || die "show --json"
expect show.out '^state       CLOSE_WAIT \(8\)$' "show: CLOSE_WAIT"
{ soccr restore --verify --pcap fin.pcap -i half.img -- soccr-echo --name b & } 2>restore.out
bg+=($!)
wait "$client" || die "the client: exit $?"
ok "the client saw b close: a clean end, no reset"
wait_for "grep -q '^restored' restore.out"
expect restore.out '^verify: 127\.0\.0\.1:[0-9]+ > 127\.0\.0\.1:7000 \[FA\] seq [0-9]+ ack [0-9]+: absorbed: state CLOSE_WAIT' \
	"restore --verify: the peer's FIN absorbed"
expect restore.out '^restored 2 sockets: 1 connection \(CLOSE_WAIT 1\), 1 listener; flows unlocked, lock detached \(no flow left\)$' \
	"restore: the summary"
tcpdump -nn -S -r fin.pcap >rfin.txt 2>/dev/null || die "tcpdump -r fin.pcap"
grep -q 'In  IP 127.0.0.1.[0-9]* > 127.0.0.1.7000: Flags \[F.\]' rfin.txt &&
	ok "restore --pcap: the injected FIN, as captured" || die "restore's pcap: $(cat rfin.txt)"
cat ps.out save.out restore.out rfin.txt | sed 's/^/# /'

# An ESTABLISHED connection's restore injects nothing: --pcap says so, not an unexplained empty file.
soccr-echo --name c listen 127.0.0.1:7001 &
est=$!
bg+=("$est")
wait_for "[ -n \"\$(ss -Htln 'sport = :7001')\" ]"
sleep 30 | soccr-echo connect 127.0.0.1:7001 >est-client.out &
bg+=($!)
wait_for "[ -n \"\$(ss -Htn state established 'sport = :7001')\" ]"
# (An ACK first, for the verifier's JSON with the socket's view before and after.)
cport=$(ss -Htn state established 'dport = :7001' | awk '{split($3, a, ":"); print a[2]}')
soccr inject --json --verify --src 127.0.0.1:$cport --dst 127.0.0.1:7001 --seq 1 --ack 1 \
	>injv.json 2>/dev/null
jq -e '.segments[0].before.state == "ESTABLISHED" and .segments[0].after.segs_in > .segments[0].before.segs_in' \
	injv.json >/dev/null && ok "inject --verify: the socket's view before and after" ||
	die "inject --verify: $(cat injv.json)"
soccr inject --json --src 10.0.0.2:5000 --dst 127.0.0.1:8080 --seq 1 --ack 1 >inj.json || die "inject --json"
soccr save --json --pid $est -o est.img >save.json || die "save of the ESTABLISHED one"
soccr lock status --json >lstatus.json || die "lock status --json"
kill $est
soccr restore --json --pcap est.pcap -i est.img >restore.json 2>est.out || die "restore --pcap: $(cat est.out)"
expect est.out '^verify: no segment injected: ESTABLISHED connections and listeners need none \(est\.pcap holds no injected segment\)$' \
	"restore --pcap of an ESTABLISHED connection says why the capture has no injected segment"
[ -f est.pcap ] && ok "the pcap file is written all the same" || die "no est.pcap"

# The same socket under two fds of a process is saved once.
soccr-echo --name d listen 127.0.0.1:7002 &
bg+=($!)
wait_for "[ -n \"\$(ss -Htln 'sport = :7002')\" ]"
bash -c 'exec 5<>/dev/tcp/127.0.0.1/7002; exec 6>&5; exec sleep 30' &
holder=$!
bg+=("$holder")
wait_for "[ -e /proc/$holder/fd/6 ] && [ \"\$(readlink /proc/$holder/fd/6)\" = \"\$(readlink /proc/$holder/fd/5)\" ]"
soccr save --json --pid $holder -o dup.img >dup.json || die "save of a dup'ed socket: $(cat dup.json)"
[ "$(jq -r '"\(.sockets) \(.connections)"' dup.json)" = "1 1" ] &&
	[ "$(soccr show --json dup.img | jq -r '.sockets[0].fd')" = 5 ] &&
	ok "save: one socket under fds 5 and 6 is saved once (as fd 5)" || die "dup'ed socket: $(cat dup.json)"
kill -9 $holder

# Versions (README "Install").
soccr --version >v.out || die "soccr --version"
expect v.out "^soccr $(sed -n 's/.*SOCCR_VERSION_STRING *"\(.*\)"/\1/p' "$src/include/soccr/version.h")" "soccr --version"
soccr version --json >vj.out || die "soccr version --json"
jq -e '.kernel != null' vj.out >/dev/null && ok "soccr version --json" || die "version --json: $(cat vj.out)"

# The JSON shapes soccr(8) documents, against what the commands printed here.
python3 - "$src/man/soccr.8" <<'PY' || die "JSON shapes differ from soccr(8)"
import json, re, sys
man = open(sys.argv[1]).read()
block = man.split(".SH JSON OUTPUT", 1)[1].split(".EX", 1)[1].split(".EE", 1)[0]
block = block.replace("\\-", "-")
docs, name = {}, None
for line in block.split("\n"):
    m = re.match(r"^([a-z][a-z -]*[a-z]):\s+(.*)$", line)
    if m:
        name = m.group(1)
        docs[name] = m.group(2)
    elif name:
        docs[name] += " " + line
files = {"ps": ["ps.json"], "save": ["save.json"], "restore": ["restore.json"],
         "show": ["show.json"], "lock list": ["list.json"], "lock status": ["lstatus.json"],
         "inject": ["inj.json"], "inject --verify": ["injv.json"], "version": ["vj.out"]}
def keys(v, out, skip_children=False):
    if isinstance(v, dict):
        for k, x in v.items():
            if not skip_children:
                out.add(k)
            keys(x, out, k == "states")
    elif isinstance(v, list):
        for x in v:
            keys(x, out)
bad = 0
for name, fs in files.items():
    text = docs.get(name)
    if text is None:
        print("soccr(8) documents no shape for", name); bad += 1; continue
    words = re.findall(r"([A-Za-z_][A-Za-z0-9_]*)(\??)", text)
    doc = {w for w, _ in words} - {"ep", "STATE", "null", "or"}
    doc |= {"addr", "port"} if "ep" in text else set()
    required = {w for w, q in words if not q} - {"ep", "STATE", "null", "or"}
    if name == "lock status":  # a healthy lock's problems: [] (lock_cli.sh sees codes)
        required -= {"code", "text"}
    seen = set()
    for f in fs:
        keys(json.load(open(f)), seen)
    extra, missing = seen - doc, required - seen
    if extra or missing:
        print(name, "undocumented:", sorted(extra), "documented but absent:", sorted(missing))
        bad += 1
    else:
        print("ok - JSON of %s as soccr(8) documents it (%d keys)" % (name, len(seen)))
sys.exit(1 if bad else 0)
PY
pass=$((pass + 9))
echo "# readme_examples: $pass passed"
