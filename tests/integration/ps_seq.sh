#!/bin/bash
# soccr ps shows the sequence numbers of a process's sockets, read-only, and they
# are the kernel's: a server in a namespace of its own holds a listener, three
# connections to a client in another namespace with known bytes both ways (all
# acknowledged; 500 bytes sent on a flow locked on the client's side, so sent
# and never acknowledged; a send queue stuck behind the client's closed window,
# so partly unsent) and a socket in SYN_SENT (its flow locked before connect). `soccr ps --json` (from our namespace, and from the server's) must
# give numbers that agree with the bytes moved, with the client's own view of
# each connection, and with what `soccr save` then records in the image
# (`soccr show --json`): rcv_nxt = inq_seq, copied_seq = inq_seq - inq_len,
# write_seq = outq_seq, snd_una = outq_seq - outq_len, snd_nxt = outq_seq -
# unsq_len. Listeners have no sequence keys. In a user namespace (no BPF
# iterator) ps still succeeds, with null numbers, "-" columns, and says why
# once on stderr, with -v only.
set -u
SOCCR=${SOCCR:-build/soccr}
[ -x "$SOCCR" ] || { echo "ps_seq: no soccr at $SOCCR" >&2; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
	echo "!!! SKIPPED: ps_seq.sh needs root" >&2
	[ "${SOCCR_REQUIRE_ROOT:-0}" = 1 ] && exit 1
	exit 77
fi
SOCCR=$(realpath "$SOCCR")

NS=soccr-psseq-$$ NC=soccr-psseqc-$$
T=$(mktemp -d /tmp/soccr-psseq.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for ns in $NS $NC; do
		ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
die() {
	echo "not ok - $*"
	for f in "$T"/*.out "$T"/*.err "$T"/*.json; do
		[ -s "$f" ] && { echo "# $f:"; sed 's/^/#   /' "$f"; }
	done
	exit 1
}
. "${SOCCR_SRC:-.}/tests/lib/netns.sh"

# The server's namespace and the client's, on a veth pair.
ip netns add "$NS" && ip netns add "$NC" && ip -n "$NS" link set lo up &&
	ip -n "$NC" link set lo up && ip -n "$NS" link add eth0 type veth peer name eth0 netns "$NC" &&
	ip -n "$NS" addr add 10.99.7.1/24 dev eth0 && ip -n "$NC" addr add 10.99.7.2/24 dev eth0 &&
	ip -n "$NS" link set eth0 up && ip -n "$NC" link set eth0 up || die "namespaces"
cd "$T" || die "cd $T"
SRV=10.99.7.1 CLI=10.99.7.2 PORT=7400 SYNPORT=7402

# The server: a listener, three connections told apart by the first byte the client
# sends (peeked, never read), then, on "go", the traffic, and a SYN_SENT socket.
cat >server.py <<'PY'
import os, socket, sys, time
T, addr, port, synport, dst = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
def touch(name, text=""):
    with open(os.path.join(T, name + ".tmp"), "w") as f:
        f.write(text)
    os.rename(os.path.join(T, name + ".tmp"), os.path.join(T, name))
def wait(name):
    while not os.path.exists(os.path.join(T, name)):
        time.sleep(0.01)
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((addr, port))
l.listen(8)
touch("listening", str(os.getpid()))
conns = {}
while len(conns) < 3:
    a, peer = l.accept()
    while len(a.recv(1, socket.MSG_PEEK)) < 1:
        pass
    conns[a.recv(1, socket.MSG_PEEK).decode()] = (a, peer[1])
touch("accepted", "".join("%s %d %d\n" % (k, v[0].fileno(), v[1]) for k, v in sorted(conns.items())))
wait("go")
c1, c2, c3 = conns["1"][0], conns["2"][0], conns["3"][0]
c1.sendall(b"a" * 300)                      # all acknowledged; the client reads none
got = 0
while got < 200:                            # 200 of the client's 1000 bytes read
    got += len(c2.recv(200 - got))
c2.sendall(b"b" * 500)                      # locked on the client's side: never acknowledged
c3.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
c3.setblocking(False)
sent = 0
try:
    while True:                             # until the client's window and our buffer are full
        sent += c3.send(b"c" * 65536)
except BlockingIOError:
    pass
s = socket.socket()                         # its SYN is dropped by the lock
s.bind((addr, synport))
s.setblocking(False)
try:
    s.connect((dst, port))
except BlockingIOError:
    pass
touch("done", "%d %d %d %d\n" % (c1.fileno(), c2.fileno(), c3.fileno(), s.fileno()))
while True:
    time.sleep(60)
PY

# The client: three connections, 1000 bytes sent on each (the first byte says which),
# the third with a small receive buffer; it reads nothing.
cat >client.py <<'PY'
import os, socket, sys, time
T, srv, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
cs = []
for i in "123":
    c = socket.socket()
    if i == "3":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    c.connect((srv, port))
    c.sendall(i.encode() + b"x" * 999)
    cs.append(c)
with open(os.path.join(T, "client.tmp"), "w") as f:
    f.write(str(os.getpid()))
os.rename(os.path.join(T, "client.tmp"), os.path.join(T, "client"))
while True:
    time.sleep(60)
PY

in_ns "$NS" python3 server.py "$T" $SRV $PORT $SYNPORT $CLI >server.out 2>&1 &
pids+=($!)
wait_file "$T/listening"
srv=$(cat listening)
in_ns "$NC" python3 client.py "$T" $SRV $PORT >client.out 2>&1 &
pids+=($!)
wait_file "$T/accepted"
wait_file "$T/client"
cli=$(cat client)
cport2=$(awk '$1 == 2 {print $3}' accepted)
# The second connection's flow locked where the client is (the server's segments leave,
# none arrives), the SYN_SENT socket's where the server is.
in_ns "$NC" "$SOCCR" lock add --attach $SRV:$PORT $CLI:$cport2 >lock.out 2>&1 &&
	in_ns "$NS" "$SOCCR" lock add --attach $SRV:$SYNPORT $CLI:$PORT >>lock.out 2>&1 ||
	die "lock the second connection's flow and the SYN_SENT socket's"
touch go
wait_file "$T/done"
sleep 0.3 # the last ACKs and window updates
kill -STOP "$srv" "$cli"

"$SOCCR" ps --json "$srv" >ps.json 2>ps.err || die "ps --json (from another namespace)"
in_ns "$NS" "$SOCCR" ps --json "$srv" >ps_in.json 2>>ps.err || die "ps --json (in the namespace)"
"$SOCCR" ps --json "$cli" >psc.json 2>>ps.err || die "ps --json of the client"
"$SOCCR" -v ps "$srv" >ps.out 2>>ps.err || die "ps (text)"
[ ! -s ps.err ] && ok "ps: nothing on stderr where the iterator runs, even with -v" ||
	die "ps wrote to stderr"
cmp -s ps.json ps_in.json && ok "ps: the same from the server's namespace and from ours" ||
	die "ps differs between namespaces: $(diff ps.json ps_in.json)"
"$SOCCR" ps --json "$srv" >ps2.json || die "ps --json, again"
cmp -s ps.json ps2.json && ok "ps: read-only (a second look sees the same, no socket in repair mode)" ||
	die "ps changed something: $(diff ps.json ps2.json)"

"$SOCCR" save --pid "$srv" -o srv.img >save.out 2>&1 || die "save"
"$SOCCR" show --json srv.img >show.json || die "show --json"
kill -9 "$srv"

read -r fd1 fd2 fd3 fd4 <done
python3 - "$fd1" "$fd2" "$fd3" "$fd4" <<'PY' || die "sequence numbers"
import json, re, sys
fd1, fd2, fd3, fd4 = map(int, sys.argv[1:])
ps = {s["fd"]: s for s in json.load(open("ps.json"))}
psc = json.load(open("psc.json"))
img = {s["fd"]: s for s in json.load(open("show.json"))["sockets"]}
text = open("ps.out").read().splitlines()
M = 1 << 32
KEYS = ("snd_una", "snd_nxt", "write_seq", "rcv_nxt", "copied_seq")
n = 0
def check(cond, what):
    global n
    if not cond:
        print("not ok - %s" % what)
        sys.exit(1)
    n += 1
def d(a, b):
    return (a - b) % M
def peer_of(s):
    # The client's socket of the same connection: its local port is our peer's.
    m = [c for c in psc if c.get("local", {}).get("port") == s["peer"]["port"]]
    check(len(m) == 1, "the client's side of fd %d" % s["fd"])
    return m[0]

lst = [s for s in ps.values() if s["state"] == "LISTEN"]
check(len(lst) == 1 and not any(k in lst[0] for k in KEYS), "the listener has no sequence keys")
for fd in (fd1, fd2, fd3):
    s = ps[fd]
    check(s["state"] == "ESTABLISHED" and all(isinstance(s[k], int) for k in KEYS),
          "fd %d: ESTABLISHED, every number known" % fd)
    # What save recorded once the socket was in repair mode.
    i = img[fd]
    check(s["rcv_nxt"] == i["inq_seq"], "fd %d: rcv_nxt = the image's inq_seq" % fd)
    check(d(s["rcv_nxt"], s["copied_seq"]) == i["inq_len"], "fd %d: copied_seq = inq_seq - inq_len" % fd)
    check(s["write_seq"] == i["outq_seq"], "fd %d: write_seq = the image's outq_seq" % fd)
    check(d(s["write_seq"], s["snd_una"]) == i["outq_len"], "fd %d: snd_una = outq_seq - outq_len" % fd)
    check(d(s["write_seq"], s["snd_nxt"]) == i.get("unsq_len", 0), "fd %d: snd_nxt = outq_seq - unsq_len" % fd)
    check(d(s["rcv_nxt"], s["copied_seq"]) == s["recv_q"], "fd %d: rcv_nxt - copied_seq = recv_q" % fd)
    check(d(s["write_seq"], s["snd_una"]) == s["send_q"], "fd %d: write_seq - snd_una = send_q" % fd)
    c = peer_of(s)
    check(c["snd_nxt"] == s["rcv_nxt"] and c["snd_una"] == s["rcv_nxt"],
          "fd %d: all the client sent is received and acknowledged" % fd)
    # The text line: the same two numbers, in the SND.NXT and RCV.NXT columns.
    line = [l for l in text if l.split()[0] == str(fd)]
    check(len(line) == 1 and re.search(r" %d +%d +save: connection$" % (s["snd_nxt"], s["rcv_nxt"]), line[0]),
          "fd %d: the text line shows SND.NXT and RCV.NXT" % fd)

s1, s2, s3 = ps[fd1], ps[fd2], ps[fd3]
c1, c2, c3 = peer_of(s1), peer_of(s2), peer_of(s3)
# fd1: 1000 bytes in, unread; 300 out, acknowledged, unread by the client.
check(d(s1["rcv_nxt"], s1["copied_seq"]) == 1000, "fd1: the client's 1000 bytes unread")
check(s1["snd_una"] == s1["snd_nxt"] == s1["write_seq"], "fd1: nothing unacknowledged")
check(c1["rcv_nxt"] == s1["snd_nxt"] and d(c1["rcv_nxt"], c1["copied_seq"]) == 300,
      "fd1: the client received our 300 bytes (its rcv_nxt is our snd_nxt)")
# fd2: 200 of 1000 read; 500 sent on the locked flow, never acknowledged.
check(d(s2["rcv_nxt"], s2["copied_seq"]) == 800, "fd2: 800 bytes left unread")
check(d(s2["snd_nxt"], s2["snd_una"]) == 500 and s2["write_seq"] == s2["snd_nxt"],
      "fd2: 500 bytes sent, unacknowledged")
check(c2["rcv_nxt"] == s2["snd_una"], "fd2: the client got none of them (its rcv_nxt is our snd_una)")
# fd3: the client's closed window holds back part of the send queue.
check(d(s3["write_seq"], s3["snd_nxt"]) > 0, "fd3: part of the send queue is unsent")
check(d(c3["rcv_nxt"], s3["snd_una"]) == 0, "fd3: the client acknowledged all it got")
# fd4: SYN_SENT, one SYN out (snd_nxt = ISN + 1), nothing known of the peer yet.
s4 = ps[fd4]
check(s4["state"] == "SYN_SENT" and d(s4["snd_nxt"], s4["snd_una"]) == 1 and
      s4["write_seq"] == s4["snd_nxt"] and s4["rcv_nxt"] is None and s4["copied_seq"] is None,
      "fd4: SYN_SENT: snd_nxt = snd_una + 1, no receive side")
check(img[fd4]["outq_seq"] == s4["write_seq"], "fd4: write_seq = the image's outq_seq")
line = [l for l in text if l.split()[0] == str(fd4)]
check(len(line) == 1 and re.search(r" %d +- +save: connection$" % s4["snd_nxt"], line[0]),
      "fd4: the text line shows SND.NXT and - for RCV.NXT")
check(text[0].split()[7:10] == ["SND.NXT", "RCV.NXT", "SAVE"], "the text header")
print("ok - %d checks of the sequence numbers" % n)
PY
ok "sequence numbers: the bytes moved, the client's view, the image (see above)"

# In a user namespace no BPF iterator loads: ps succeeds without numbers, -v says why once.
unshare -Ur --net bash -c '
	ip link set lo up
	python3 -c "
import socket, time
l = socket.socket(); l.bind((\"127.0.0.1\", 0)); l.listen(1)
c = socket.create_connection(l.getsockname()); a, _ = l.accept()
open(\"userns.ready\", \"w\").close(); time.sleep(30)" &
	p=$!
	while [ ! -e userns.ready ]; do sleep 0.01; done
	"$0" ps --json $p >userns.json 2>userns_q.err || echo "ps --json: exit $?" >>userns.fail
	"$0" -v ps $p >userns.out 2>userns_v.err || echo "ps -v: exit $?" >>userns.fail
	kill $p' "$SOCCR" || die "a user namespace"
[ ! -e userns.fail ] && ok "user namespace: ps succeeds" || die "$(cat userns.fail)"
python3 - <<'PY' || die "user namespace: the sequence numbers"
import json
rows = json.load(open("userns.json"))
conns = [r for r in rows if r["state"] == "ESTABLISHED"]
assert len(conns) == 2, rows
for r in conns:
    assert all(r[k] is None for k in ("snd_una", "snd_nxt", "write_seq", "rcv_nxt", "copied_seq")), r
PY
ok "user namespace: every sequence number null"
[ "$(grep -cE ' +- +- +save: connection$' userns.out)" = 2 ] && ok "user namespace: '-' in the text columns" ||
	die "user namespace text: $(cat userns.out)"
[ ! -s userns_q.err ] && ok "user namespace: nothing on stderr without -v" || die "stderr without -v: $(cat userns_q.err)"
[ "$(wc -l <userns_v.err)" = 1 ] && grep -q '^soccr: ps: sequence numbers not shown: .*BPF' userns_v.err &&
	ok "user namespace: -v says why, once" || die "stderr with -v: $(cat userns_v.err)"
echo "# ps_seq: $pass passed"
