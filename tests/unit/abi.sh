#!/bin/bash
# The shared library's ABI: SONAME, exactly the exported symbols of
# tests/abi/libsoccr.sym (all under the LIBSOCCR_1 version node), and every
# function soccr.h declares among them. A symbol added on purpose goes into
# the list in the same change; one that leaks by accident fails here.
set -u
so="$SOCCR_BUILD/libsoccr.so"
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libsoccr.so.1 ] && ok "SONAME $soname" || bad "SONAME '$soname', want libsoccr.so.1"

actual=$(nm -D --defined-only "$so" | awk '$3 != "LIBSOCCR_1" {print $3}' | sort)
expected=$(sort "$SOCCR_SRC/tests/abi/libsoccr.sym")
if [ "$actual" = "$expected" ]; then
	ok "$(echo "$actual" | wc -l) exported symbols, as listed"
else
	bad "exported symbols differ from tests/abi/libsoccr.sym:"
	diff <(echo "$expected") <(echo "$actual") | sed 's/^/     /'
fi

# Every function of the CRIU API, exported with a version.
for f in $(sed -n 's/^[a-z].*[ *]\(libsoccr_[a-z_]*\)(.*/\1/p' "$SOCCR_SRC/include/soccr/soccr.h"); do
	echo "$actual" | grep -qx "$f@@LIBSOCCR_1" && ok "$f exported" || bad "$f not exported"
done
n=$(sed -n 's/^[a-z].*[ *]\(libsoccr_[a-z_]*\)(.*/\1/p' "$SOCCR_SRC/include/soccr/soccr.h" | wc -l)
[ "$n" -eq 10 ] && ok "soccr.h declares CRIU's 10 functions" || bad "soccr.h declares $n libsoccr_ functions, want 10"

# No library dependency beyond the contract's (libbpf, libpcap, libelf, zlib, libc).
deps=$(readelf -d "$so" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
for d in $deps; do
	case "$d" in
	libbpf.so.*|libpcap.so.*|libelf.so.*|libz.so.*|libc.so.*) ;;
	libasan.so.*|libubsan.so.*) ;;	# sanitizer builds
	*) bad "unexpected dependency $d" ;;
	esac
done
echo "$deps" | grep -q libnet && bad "linked against libnet" || ok "dependencies: $deps"
exit $fail
