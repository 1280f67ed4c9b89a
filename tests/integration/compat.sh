#!/bin/bash
# A CRIU-style program (tests/integration/compat/criu_style.c, only <soccr/soccr.h>)
# built with `pkg-config --cflags --libs libsoccr` against `make install DESTDIR=...`,
# run between two network namespaces with strict rp_filter in the restoring one.
set -eu
src=${SOCCR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SOCCR_BUILD:-$src/build}
[ "$(id -u)" -eq 0 ] || { echo "!!! SKIPPED: compat.sh needs root"; exit 77; }

tmp=$(mktemp -d)
a=soccr-compat-$$-a
b=soccr-compat-$$-b
cleanup() {
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

make -s -C "$src" O="$build" install DESTDIR="$tmp/root" PREFIX=/usr/local >/dev/null
# The library directory is the default one (multiarch on Debian): found, not assumed.
libdir=$(dirname "$(find "$tmp/root" -name libsoccr.so.1)")
export PKG_CONFIG_PATH="$libdir/pkgconfig" PKG_CONFIG_SYSROOT_DIR="$tmp/root"
cflags=$(pkg-config --cflags libsoccr)
libs=$(pkg-config --libs libsoccr)
case "$cflags" in *"$tmp/root/usr/local/include"*) ;; *) echo "pkg-config cflags: $cflags"; exit 1 ;; esac
# A sanitizer build of the library needs the sanitizer runtime in the program too.
san=
if nm -D "$libdir/libsoccr.so" | grep -q __asan_init; then
	san="-fsanitize=address,undefined"
fi
cc -std=gnu11 -Wall -Wextra -Werror $san $cflags -o "$tmp/criu_style" \
	"$src/tests/integration/compat/criu_style.c" $libs

x=$(( $$ % 200 + 20 ))
ip netns add "$a"
ip netns add "$b"
ip link add "ca$x" netns "$a" type veth peer name "cb$x" netns "$b"
ip -n "$a" link set lo up
ip -n "$b" link set lo up
ip -n "$a" link set "ca$x" up
ip -n "$b" link set "cb$x" up
ip -n "$a" addr add "10.251.$x.1/24" dev "ca$x"
ip -n "$b" addr add "10.251.$x.2/24" dev "cb$x"
ip netns exec "$a" sysctl -qw net.ipv4.conf.all.rp_filter=1 "net.ipv4.conf.ca$x.rp_filter=1"
for _ in $(seq 100); do
	ip -n "$a" link show "ca$x" | grep -q LOWER_UP && break
	sleep 0.01
done
LD_LIBRARY_PATH="$libdir" "$tmp/criu_style" "$a" "$b" "10.251.$x.1" "10.251.$x.2"
