#!/bin/bash
# The shared libraries' ABI: SONAMEs, exactly the exported symbols of
# tests/abi/libsoccr.sym (LIBSOCCR_1, and LIBSOCCR_PRIVATE for the verifier
# library alone) and tests/abi/libsoccr-verify.sym, and every function
# soccr.h declares among them. A symbol added on purpose goes into the list
# in the same change; one that leaks by accident fails here. libsoccr needs
# libbpf, libelf (through libbpf), zlib and libc only: libpcap is the
# verifier's.
set -u
so="$SOCCR_BUILD/libsoccr.so"
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }

soname=$(readelf -d "$so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libsoccr.so.1 ] && ok "SONAME $soname" || bad "SONAME '$soname', want libsoccr.so.1"

actual=$(nm -D --defined-only "$so" | awk '$3 !~ /^LIBSOCCR/ {print $3}' | sort)
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

# No library dependency beyond the contract's.
check_deps() { # library, allowed pattern
	local deps d
	deps=$(readelf -d "$1" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' | tr '\n' ' ')
	for d in $deps; do
		case "$d" in
		libasan.so.* | libubsan.so.* | ld-linux*) ;; # sanitizer builds; TLS
		*) [[ "$d" =~ $2 ]] || bad "$(basename "$1"): unexpected dependency $d" ;;
		esac
	done
	echo "$deps" | grep -q libnet && bad "$(basename "$1") linked against libnet" ||
		ok "$(basename "$1") dependencies: $deps"
}
check_deps "$so" '^(libbpf|libelf|libz|libc)\.so\.'
vso="$SOCCR_BUILD/libsoccr-verify.so"
check_deps "$vso" '^(libsoccr|libpcap|libc)\.so\.'
soname=$(readelf -d "$vso" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libsoccr-verify.so.1 ] && ok "SONAME $soname" || bad "SONAME '$soname', want libsoccr-verify.so.1"
actual=$(nm -D --defined-only "$vso" | awk '$3 !~ /^LIBSOCCR/ {print $3}' | sort)
expected=$(sort "$SOCCR_SRC/tests/abi/libsoccr-verify.sym")
[ "$actual" = "$expected" ] && ok "libsoccr-verify: $(echo "$actual" | wc -l) exported symbols, as listed" ||
	bad "libsoccr-verify exports differ from tests/abi/libsoccr-verify.sym: $(diff <(echo "$expected") <(echo "$actual") | tr '\n' ' ')"

# A program that calls only CRIU's API links statically with libbpf's link line alone
# (a sanitizer build of the library needs the sanitizer runtime in the program too).
san=
nm "$SOCCR_BUILD/libsoccr.a" 2>/dev/null | grep -q __asan_ && san="-fsanitize=address,undefined"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/criu.c" <<'EOC'
#include <soccr/soccr.h>
int main(void)
{
	struct libsoccr_sk *sk = libsoccr_pause(-1);
	struct libsoccr_sk_data d = {0};

	if (sk && libsoccr_restore(sk, &d, sizeof(d)) == 0)
		libsoccr_resume(sk);
	libsoccr_release(sk);
	return 0;
}
EOC
if ${CC:-cc} $san -I"$SOCCR_SRC/include" -o "$tmp/criu" "$tmp/criu.c" "$SOCCR_BUILD/libsoccr.a" \
	$(PKG_CONFIG_PATH="$SOCCR_BUILD" pkg-config --static --libs libbpf) -lelf -lz 2>"$tmp/err"; then
	ok "CRIU-API program links with libsoccr.a -lbpf -lelf -lz"
	nm "$tmp/criu" | grep -q pcap_ && bad "libpcap pulled into a CRIU-API program" || ok "no libpcap in it"
else
	bad "CRIU-API program does not link without libpcap: $(head -3 "$tmp/err" | tr '\n' ' ')"
fi
libs=$(PKG_CONFIG_PATH="$SOCCR_BUILD" pkg-config --static --libs libsoccr)
if ${CC:-cc} $san -I"$SOCCR_SRC/include" -o "$tmp/criu2" "$tmp/criu.c" -L"$SOCCR_BUILD" -Wl,-Bstatic -lsoccr -Wl,-Bdynamic \
	$(echo "$libs" | sed 's/-lsoccr//') 2>"$tmp/err"; then
	ok "pkg-config --static --libs libsoccr works: $libs"
else
	bad "pkg-config --static --libs libsoccr ($libs): $(head -3 "$tmp/err" | tr '\n' ' ')"
fi
exit $fail
