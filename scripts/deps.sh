#!/bin/sh
# Install the Debian packages that the build, tests, demo and benchmarks need.
# A quick no-op when they are all present.
set -eu

PKGS="make gcc clang llvm pkg-config libbpf-dev bpftool libpcap-dev libelf-dev zlib1g-dev
linux-libc-dev libcmocka-dev iproute2 tcpdump nftables libnftables-dev libnet1-dev valgrind
libclang-rt-14-dev jq python3 procps binutils dpkg-dev debhelper lintian fakeroot"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages:$missing (run 'make deps' as root, or apt-get install them)" >&2
	exit 1
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
