#!/bin/bash
# `make install` into a temporary prefix, as a user would: the files, modes and
# links it puts there (multiarch libdir, SONAME and real-name links), .pc files that
# name that prefix (remade when the prefix changes, free of libpcap's dbus flags), a
# program built with pkg-config alone (shared and static) that runs against the
# installed library, ldconfig run only for an install into the system, and
# `make uninstall` leaving nothing behind.
set -u
src=${SOCCR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SOCCR_BUILD:-$src/build}
tmp=$(mktemp -d /tmp/soccr-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # description, command...
	local what=$1
	shift
	if "$@" >"$tmp/out" 2>&1; then ok "$what"; else bad "$what"; sed 's/^/#   /' "$tmp/out"; fi
}

# The build directory relative to the tree, as the make rules name it.
O=$(realpath --relative-to="$src" "$build")
mk() { make -s -C "$src" O="$O" "$@"; }
version=$(sed -n 's/^#define SOCCR_VERSION_STRING "\(.*\)"/\1/p' "$src/include/soccr/version.h")
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
pfx=$tmp/prefix
libdir=$pfx/lib${multiarch:+/$multiarch}

check "make install PREFIX=$pfx" mk install PREFIX="$pfx" LDCONFIG="touch $tmp/ldconfig-ran"
for f in bin/soccr include/soccr/soccr.h include/soccr/version.h include/soccr/verify.h \
	share/man/man8/soccr.8 share/man/man3/libsoccr.3 \
	share/bash-completion/completions/soccr; do
	[ -f "$pfx/$f" ] && ok "installed $f" || bad "missing $pfx/$f"
done
for l in libsoccr libsoccr-verify; do
	[ -f "$libdir/$l.so.1.0.0" ] && [ ! -L "$libdir/$l.so.1.0.0" ] &&
		ok "$l.so.1.0.0 is the file" || bad "$libdir/$l.so.1.0.0 is not a regular file"
	[ "$(readlink "$libdir/$l.so.1")" = "$l.so.1.0.0" ] &&
		ok "$l.so.1 -> $l.so.1.0.0" || bad "$l.so.1 -> '$(readlink "$libdir/$l.so.1")'"
	[ "$(readlink "$libdir/$l.so")" = "$l.so.1" ] &&
		ok "$l.so -> $l.so.1" || bad "$l.so -> '$(readlink "$libdir/$l.so")'"
	soname=$(readelf -d "$libdir/$l.so.1.0.0" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
	[ "$soname" = "$l.so.1" ] && ok "$l SONAME $soname" || bad "$l SONAME '$soname'"
	[ -f "$libdir/$l.a" ] && ok "$l.a" || bad "missing $l.a"
done
mode=$(stat -c %a "$pfx/include/soccr/soccr.h")
[ "$mode" = 644 ] && ok "headers 0644" || bad "soccr.h mode $mode"

# ldconfig: for an install into the running system (no DESTDIR) as root only.
if [ "$(id -u)" -eq 0 ]; then
	[ -e "$tmp/ldconfig-ran" ] && ok "ldconfig ran (root, no DESTDIR)" || bad "ldconfig did not run"
fi
rm -f "$tmp/ldconfig-ran"
check "make install DESTDIR=..." mk install PREFIX=/usr DESTDIR="$tmp/dest" \
	LDCONFIG="touch $tmp/ldconfig-ran"
[ ! -e "$tmp/ldconfig-ran" ] && ok "no ldconfig with DESTDIR" || bad "ldconfig ran with DESTDIR"
grep -qx "prefix=/usr" "$tmp/dest/usr/lib${multiarch:+/$multiarch}/pkgconfig/libsoccr.pc" &&
	ok "DESTDIR install: .pc says prefix=/usr" || bad "DESTDIR install: .pc prefix wrong"

# pkg-config, from the first prefix (the .pc was remade for it, then again for /usr).
check "reinstall into $pfx" mk install PREFIX="$pfx" LDCONFIG=:
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --variable=prefix libsoccr)" = "$pfx" ] && ok "libsoccr.pc prefix=$pfx" ||
	bad "libsoccr.pc prefix '$(pkg-config --variable=prefix libsoccr)'"
[ "$(pkg-config --variable=libdir libsoccr)" = "$libdir" ] && ok "libsoccr.pc libdir" ||
	bad "libsoccr.pc libdir '$(pkg-config --variable=libdir libsoccr)'"
[ "$(pkg-config --modversion libsoccr-verify)" = "$version" ] && ok "libsoccr-verify.pc version $version" ||
	bad "libsoccr-verify.pc version '$(pkg-config --modversion libsoccr-verify)'"
for p in libsoccr libsoccr-verify; do
	cf=$(pkg-config --cflags "$p")
	case "$cf" in *dbus*) bad "$p cflags carry dbus: $cf" ;; *) ok "$p cflags: $cf" ;; esac
done

cat >"$tmp/prog.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <soccr/soccr.h>
#include <soccr/version.h>
#include <soccr/verify.h>

int main(void)
{
	/* A socket that is not connected cannot be paused: the library says so, no crash. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct libsoccr_sk *sk = libsoccr_pause(fd);

	if (sk)
		libsoccr_release(sk);
	close(fd);
	printf("%s %s\n", soccr_version(), SOCCR_VERSION_STRING);
	return strcmp(soccr_version(), SOCCR_VERSION_STRING) != 0;
}
C
# A sanitizer build of the library needs the sanitizer runtime in the program too.
san=
nm -D "$libdir/libsoccr.so" | grep -q __asan_init && san="-fsanitize=address,undefined"
# shellcheck disable=SC2046
check "build against the installed libsoccr-verify with pkg-config" \
	cc -std=gnu11 -Wall -Wextra -Werror $san $(pkg-config --cflags libsoccr-verify) -o "$tmp/prog" \
	"$tmp/prog.c" $(pkg-config --libs libsoccr-verify)
check "it runs against the installed library" env LD_LIBRARY_PATH="$libdir" "$tmp/prog"
grep -qx "$version $version" "$tmp/out" && ok "soccr_version() = $version" || bad "version: $(cat "$tmp/out")"
readelf -d "$tmp/prog" | grep -q 'NEEDED.*\[libsoccr.so.1\]' && ok "NEEDED libsoccr.so.1" ||
	bad "the program does not need libsoccr.so.1"
# Static: the archive and what pkg-config --static says it needs.
# shellcheck disable=SC2046
check "static link with pkg-config --static" \
	cc -std=gnu11 $san $(pkg-config --cflags libsoccr) -o "$tmp/prog-static" "$tmp/prog.c" \
	"$libdir/libsoccr-verify.a" "$libdir/libsoccr.a" \
	$(pkg-config --static --libs libsoccr | sed 's/-lsoccr\b//') -lpcap
check "the static program runs without the shared library" env LD_LIBRARY_PATH= "$tmp/prog-static"
readelf -d "$tmp/prog-static" | grep -q 'NEEDED.*libsoccr' && bad "static program needs libsoccr.so" ||
	ok "static program needs no libsoccr.so"

# The README's line for a CRIU-API program (not in a sanitizer build: it adds no runtime).
if [ -z "$san" ]; then
	mkdir "$tmp/criu"
	cp "$src/tests/integration/compat/criu_style.c" "$tmp/criu/prog.c"
	# shellcheck disable=SC2046
	check "the README's CRIU-API build line" \
		sh -c 'cd "$1" && cc -o prog prog.c $(pkg-config --cflags --libs libsoccr)' sh "$tmp/criu"
	readelf -d "$tmp/criu/prog" | grep -q 'NEEDED.*libpcap' && bad "a CRIU-API program needs libpcap" ||
		ok "a CRIU-API program needs no libpcap"
fi

check "make uninstall" mk uninstall PREFIX="$pfx" LDCONFIG=:
left=$(find "$pfx" ! -type d | sed "s|^$pfx/||")
[ -z "$left" ] && ok "uninstall leaves no file" || bad "left after uninstall: $left"

echo "install: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
