#!/bin/bash
# The Debian packages, as `make deb` builds them (scripts/deb.sh):
#   the four packages are built and lintian reports no error (E:)
#   each holds its files: the libraries with their SONAME links, the headers, static libraries,
#     .pc files and libsoccr(3) in libsoccr-dev, the tool, soccr(8) and the completion in soccr
#   the -dev package works: extracted (dpkg -x, nothing is installed into the system), a
#     program using libsoccr_pause() builds with its pkg-config files, links against its
#     libsoccr.so (and statically against libsoccr.a), and runs against the extracted library;
#     one using libsoccr-verify links too
# Skipped (77), loudly, when dpkg-dev, debhelper or lintian is missing. Any directory will do
# (it goes to the repository root). As root the program also pauses and resumes a loopback
# connection (TCP_REPAIR needs CAP_NET_ADMIN); otherwise it is only run to see that it loads.
set -u
cd "$(dirname "$0")/../.." || exit 1

missing=()
for t in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian; do
	command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if [ ${#missing[@]} -ne 0 ]; then
	echo "!!! SKIPPED: building the Debian packages needs ${missing[*]}" \
		"(apt-get install -y ${missing[*]})" >&2
	exit 77
fi

tmp=$(mktemp -d /tmp/soccr-deb-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
version=$(dpkg-parsechangelog -S Version)

# ---- test_deb_builds_lintian_clean ---------------------------------------------------
out="$tmp/out"
rc=0
scripts/deb.sh "$out" >"$tmp/deb.log" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
	cat "$tmp/deb.log"
	[ -f "$out/lintian.txt" ] && grep '^E: ' "$out/lintian.txt"
	echo "FAIL: scripts/deb.sh exited $rc"
	exit 1
fi
if grep '^E: ' "$out/lintian.txt"; then
	fail "lintian reports errors"
fi
grep -E '^[WE]: ' "$out/lintian.txt" | sed 's/^/lintian: /'

declare -A deb
for p in libsoccr1 libsoccr-verify1 libsoccr-dev soccr; do
	deb[$p]="$out/${p}_${version}_${arch}.deb"
	[ -f "${deb[$p]}" ] || { fail "no ${p}_${version}_${arch}.deb in: $(cd "$out" && echo *)"; continue; }
done
[ $fails -eq 0 ] || exit 1

# ---- test_deb_contents ---------------------------------------------------------------
# has PKG PATH...: every PATH (relative, no leading ./) is in PKG's data.
has() {
	local p=$1 f list
	shift
	list=$(dpkg-deb -c "${deb[$p]}" | awk '{print $6}' | sed 's|^\./||')
	for f; do
		grep -qxF "$f" <<<"$list" || fail "$p lacks $f"
	done
}
# lacks PKG REGEX: nothing in PKG's data matches.
lacks() {
	local hit
	hit=$(dpkg-deb -c "${deb[$1]}" | awk '{print $6}' | sed 's|^\./||' | grep -E "$2")
	[ -z "$hit" ] || fail "$1 holds what it should not: $hit"
}
L=usr/lib/$ma
has libsoccr1 "$L"/libsoccr.so.1 "$L"/libsoccr.so.1.0.0 usr/share/doc/libsoccr1/copyright
lacks libsoccr1 '\.a$|\.so$|^usr/include|verify'
has libsoccr-verify1 "$L"/libsoccr-verify.so.1 "$L"/libsoccr-verify.so.1.0.0
lacks libsoccr-verify1 '\.a$|\.so$|^usr/include|libsoccr\.so'
has libsoccr-dev "$L"/libsoccr.so "$L"/libsoccr.a "$L"/libsoccr-verify.so "$L"/libsoccr-verify.a \
	"$L"/pkgconfig/libsoccr.pc "$L"/pkgconfig/libsoccr-verify.pc usr/share/man/man3/libsoccr.3.gz
for h in include/soccr/*.h; do
	has libsoccr-dev "usr/$h"
done
lacks libsoccr-dev '\.so\.1'
has soccr usr/bin/soccr usr/share/man/man8/soccr.8.gz usr/share/bash-completion/completions/soccr
# dh_compress leaves documents under 4 KiB uncompressed.
dpkg-deb -c "${deb[soccr]}" | grep -E ' \./usr/share/doc/soccr/README\.md(\.gz)?$' >/dev/null ||
	fail "soccr lacks usr/share/doc/soccr/README.md"
lacks soccr '^usr/lib/.*\.so|^usr/include'

# The SONAME is the name libsoccr1 ships, and the control data has the symbols file.
root="$tmp/root"
for p in libsoccr1 libsoccr-verify1 libsoccr-dev soccr; do
	dpkg -x "${deb[$p]}" "$root" || fail "dpkg -x ${deb[$p]}"
done
for l in libsoccr libsoccr-verify; do
	soname=$(readelf -d "$root/$L/$l.so.1.0.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	[ "$soname" = "$l.so.1" ] || fail "$l.so.1.0.0 has SONAME '$soname'"
done
dpkg-deb -I "${deb[libsoccr1]}" symbols >"$tmp/symbols" 2>/dev/null || fail "libsoccr1 has no symbols file"
grep -q '^ libsoccr_pause@LIBSOCCR_1 ' "$tmp/symbols" || fail "libsoccr1's symbols lack libsoccr_pause"
dpkg-deb -f "${deb[libsoccr-verify1]}" Depends | grep -q "libsoccr1 (= $version)" ||
	fail "libsoccr-verify1 does not depend on libsoccr1 (= $version)"

# ---- test_deb_dev_package_builds_a_program -------------------------------------------
# pkg-config sees the extracted .pc files only (and the system's, for libbpf and libpcap);
# the sysroot prefixes their -I and -L with the extracted tree.
export PKG_CONFIG_SYSROOT_DIR="$root"
export PKG_CONFIG_LIBDIR="$root/$L/pkgconfig:/usr/lib/$ma/pkgconfig:/usr/share/pkgconfig"
cflags=$(pkg-config --cflags libsoccr) || fail "pkg-config --cflags libsoccr"
libs=$(pkg-config --libs libsoccr) || fail "pkg-config --libs libsoccr"
slibs=$(pkg-config --static --libs libsoccr) || fail "pkg-config --static --libs libsoccr"
vflags=$(pkg-config --cflags --libs libsoccr-verify) || fail "pkg-config libsoccr-verify"
[ "$(pkg-config --modversion libsoccr)" = "${version%%-*}" ] ||
	fail "libsoccr.pc says version $(pkg-config --modversion libsoccr), the package $version"
[[ "$cflags" == *"-I$root/usr/include"* ]] || fail "libsoccr.pc's cflags ($cflags) are not the extracted headers"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR

cat >"$tmp/pause.c" <<'C'
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <soccr/soccr.h>
#include <soccr/version.h>

/* A connection over loopback; libsoccr_pause() on the client end, then resume. With
 * --link-only the program is only run to check that it loads (no TCP_REPAIR: not root). */
int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct libsoccr_sk *sk;
	int l, c, s;

	printf("libsoccr %s (headers %s)\n", soccr_version(), SOCCR_VERSION_STRING);
	if (argc > 1 && strcmp(argv[1], "--link-only") == 0)
		return 0;
	l = socket(AF_INET, SOCK_STREAM, 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len) ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)) || (s = accept(l, NULL, NULL)) < 0) {
		perror("loopback connection");
		return 1;
	}
	sk = libsoccr_pause(c);
	if (!sk) {
		fprintf(stderr, "libsoccr_pause failed\n");
		return 1;
	}
	libsoccr_resume(sk);
	if (write(c, "x", 1) != 1) {
		perror("write after resume");
		return 1;
	}
	puts("paused and resumed");
	close(s);
	close(c);
	close(l);
	return 0;
}
C
cat >"$tmp/verify.c" <<'C'
#include <stdio.h>

#include <soccr/verify.h>

int main(void)
{
	puts(soccr_verdict_name(SOCCR_VERDICT_ABSORBED));
	return 0;
}
C
# shellcheck disable=SC2086
if cc -Wall -Werror $cflags -o "$tmp/pause" "$tmp/pause.c" $libs 2>"$tmp/cc.log"; then
	readelf -d "$tmp/pause" | grep -q 'NEEDED.*\[libsoccr\.so\.1\]' ||
		fail "the program does not need libsoccr.so.1"
	# Root can pause (TCP_REPAIR needs CAP_NET_ADMIN); others check the program loads.
	arg=--link-only
	[ "$(id -u)" -eq 0 ] && arg=
	if ! LD_LIBRARY_PATH="$root/$L" "$tmp/pause" $arg >"$tmp/run.log" 2>&1; then
		cat "$tmp/run.log"
		fail "the program built against libsoccr-dev failed"
	fi
	LD_LIBRARY_PATH="$root/$L" ldd "$tmp/pause" | grep -q "$root/$L/libsoccr.so.1" ||
		fail "the program did not load the extracted libsoccr.so.1"
else
	cat "$tmp/cc.log"
	fail "a program using libsoccr_pause does not build against libsoccr-dev"
fi
# Static: libsoccr.a, then what pkg-config --static names (libbpf, libelf, zlib).
# shellcheck disable=SC2086
slibs=$(sed 's/ -lsoccr / /; s/ -lsoccr$//' <<<"$slibs ")
# shellcheck disable=SC2086
cc -Wall -Werror $cflags -o "$tmp/pause-static" "$tmp/pause.c" \
	-Wl,-Bstatic -lsoccr -Wl,-Bdynamic $slibs \
	2>"$tmp/cc.log" || { cat "$tmp/cc.log"; fail "the program does not link with libsoccr.a"; }
[ -x "$tmp/pause-static" ] && { "$tmp/pause-static" --link-only >/dev/null ||
	fail "the program linked with libsoccr.a does not run"; }
# libsoccr-verify.so needs libsoccr.so.1: -rpath-link finds it in the extracted tree.
# shellcheck disable=SC2086
if cc -Wall -Werror -o "$tmp/verify" "$tmp/verify.c" $vflags -Wl,-rpath-link,"$root/$L" \
	2>"$tmp/cc.log"; then
	[ "$(LD_LIBRARY_PATH="$root/$L" "$tmp/verify")" = absorbed ] ||
		fail "the libsoccr-verify program printed '$(LD_LIBRARY_PATH="$root/$L" "$tmp/verify" 2>&1)'"
else
	cat "$tmp/cc.log"
	fail "a program using libsoccr-verify does not build against libsoccr-dev"
fi

[ $fails -eq 0 ] || { echo "$fails failure(s)"; exit 1; }
echo "deb: 4 packages, lintian clean, contents and -dev package checked"
