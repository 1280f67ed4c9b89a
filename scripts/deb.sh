#!/bin/bash
# Build the Debian packages (debian/) from a clean copy of the tree, then check them with
# lintian:   scripts/deb.sh OUTDIR
# The copy holds the tracked files and the untracked ones git does not ignore (so a change
# not yet committed is packaged; build/, build-san/, objects are not); outside a git
# checkout, the tree less build*/. OUTDIR receives the .debs, .buildinfo, .changes and
# lintian.txt. Exit: 0 built and no lintian error, 1 failure (lintian E: included),
# 2 usage, 77 the tools are missing (the packages to install are printed).
# Environment: DEB_BUILD_OPTIONS as usual (parallel=N is added when absent),
# SOCCR_DEB_KEEP=1 keeps the build copy (its path is printed).
set -euo pipefail

if [ $# -ne 1 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
	echo "usage: scripts/deb.sh OUTDIR" >&2
	exit 2
fi
src=$(cd "$(dirname "$0")/.." && pwd)

# The tools, and the Debian packages that hold them.
missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need dpkg-buildpackage dpkg-dev
need dh debhelper
need lintian lintian
if [ ${#missing[@]} -ne 0 ]; then
	echo "deb: missing tools; install them with: apt-get install -y ${missing[*]}" >&2
	exit 77
fi
mkdir -p "$1"
out=$(cd "$1" && pwd)
# The build dependencies are checked by dpkg-buildpackage (dpkg-checkbuilddeps): a missing
# one is an error that names it (scripts/deps.sh or `make deps` installs them all).

work=$(mktemp -d "${TMPDIR:-/tmp}/soccr-deb.XXXXXX")
cleanup() {
	if [ "${SOCCR_DEB_KEEP:-0}" = 1 ]; then
		echo "deb: build copy kept in $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# dpkg-buildpackage writes its results into the parent of the source directory.
tree="$work/soccr"
mkdir "$tree"
# What an in-place dpkg-buildpackage leaves in debian/ (not in .gitignore): never copied.
generated='^debian/(build|tmp|\.debhelper|libsoccr1|libsoccr-verify1|libsoccr-dev|soccr)/'
generated+='|^debian/(files|debhelper-build-stamp|.*\.substvars|.*\.debhelper\.log)$'
if git -C "$src" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# Tracked files deleted in the working tree are skipped.
	(cd "$src" && git ls-files -z --cached --others --exclude-standard) |
		while IFS= read -r -d '' f; do
			[[ "$f" =~ $generated ]] && continue
			[ -e "$src/$f" ] || [ -L "$src/$f" ] || continue
			printf '%s\0' "$f"
		done | sort -zu | tar -C "$src" --null --no-recursion -T - -cf - | tar -C "$tree" -xf -
else
	tar -C "$src" --exclude='./build*' --exclude='./debian/build' --exclude='./debian/tmp' \
		--exclude='./debian/.debhelper' --exclude='*.o' --exclude='*.d' -cf - . |
		tar -C "$tree" -xf -
fi
[ -f "$tree/debian/control" ] || { echo "deb: no debian/control in $src" >&2; exit 1; }

if [[ " ${DEB_BUILD_OPTIONS:-} " != *" parallel="* ]]; then
	DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }parallel=$(nproc)"
	export DEB_BUILD_OPTIONS
fi

# A package is built as Debian builds it: nothing from a calling make (`make check SAN=1`
# exports SAN=1 and O= to every make below it through MAKEFLAGS), no sanitizer options.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES SAN O V ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS

start=$(date +%s)
echo "deb: dpkg-buildpackage -b -us -uc in $tree"
if ! (cd "$tree" && dpkg-buildpackage -b -us -uc) >"$work/build.log" 2>&1; then
	tail -n 60 "$work/build.log" >&2
	cp "$work/build.log" "$out/build.log"
	echo "deb: dpkg-buildpackage failed (full log: $out/build.log)" >&2
	exit 1
fi
cp "$work/build.log" "$out/build.log"
echo "deb: built in $(($(date +%s) - start)) s"

shopt -s nullglob
results=("$work"/*.deb "$work"/*.ddeb "$work"/*.buildinfo "$work"/*.changes)
[ ${#results[@]} -ne 0 ] || { echo "deb: dpkg-buildpackage produced nothing" >&2; exit 1; }
cp "${results[@]}" "$out/"
# This build's .changes (OUTDIR may hold older ones): it names every .deb built.
changes=("$work"/*.changes)

# lintian on the .changes covers every .deb it lists. As root lintian warns it should not
# run as root; it is only reading files here.
rc=0
lintian --info --display-info --pedantic --tag-display-limit 0 "${changes[@]}" \
	>"$out/lintian.txt" 2>&1 || rc=$?
grep -Ev "^N:|^running with root privileges" "$out/lintian.txt" || true
if grep -q '^E: ' "$out/lintian.txt"; then
	echo "deb: lintian reports errors (see $out/lintian.txt)" >&2
	exit 1
fi
# lintian exits 2 when it itself failed (not for tags).
if [ $rc -ne 0 ] && [ $rc -ne 1 ]; then
	echo "deb: lintian failed (exit $rc)" >&2
	exit 1
fi
echo "deb: packages in $out:"
(cd "$out" && ls -1 -- *.deb)
