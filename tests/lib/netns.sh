# Shell helpers of the integration tests (sourced; each test defines die()).

# in_ns NS CMD...: CMD in network namespace NS (nsenter: our mount namespace, our /sys).
in_ns() { local ns=$1; shift; nsenter --net="/run/netns/$ns" "$@"; }

# wait_file PATH: until PATH exists (10 s), else die.
wait_file() {
	for _ in $(seq 1000); do
		[ -e "$1" ] && return 0
		sleep 0.01
	done
	die "timed out waiting for $1"
}

# bridge3 C O D NET4 [NET6]: three hosts on one bridge, made in namespace C: the client
# (NET4.2, NET6::2 on br0), the origin O and the destination D (eth0 each, up), the
# service address NET4.1 (NET6::1) on the origin. Returns non-zero if a step failed.
bridge3() {
	local c=$1 o=$2 d=$3 n4=$4 n6=${5:-} ns p
	for ns in $c $o $d; do
		ip netns add "$ns" && ip -n "$ns" link set lo up || return 1
	done
	ip -n "$c" link add br0 type bridge mcast_snooping 0 &&
		ip -n "$o" link add eth0 type veth peer name po netns "$c" &&
		ip -n "$d" link add eth0 type veth peer name pd netns "$c" || return 1
	for p in po pd; do ip -n "$c" link set $p master br0 up || return 1; done
	ip -n "$c" link set br0 up && ip -n "$c" addr add "$n4.2/24" dev br0 || return 1
	for ns in $o $d; do ip -n "$ns" link set eth0 up || return 1; done
	ip -n "$o" addr add "$n4.1/24" dev eth0 || return 1
	if [ -n "$n6" ]; then
		ip -n "$c" addr add "$n6::2/64" dev br0 nodad &&
			ip -n "$o" addr add "$n6::1/64" dev eth0 nodad || return 1
	fi
}
