#!/bin/bash
# Every unit test program under valgrind memcheck: any memory error, or any
# definitely or possibly lost block, fails the run. Needs a build without
# sanitizers (valgrind and ASan do not mix): `make valgrind` uses $O (build/).
# tests/valgrind.supp, if present, holds suppressions for third-party code
# (none are needed today).
set -u
cd "$(dirname "$0")/.."
O=${O:-build}

if ! command -v valgrind >/dev/null; then
	echo "valgrind: not installed (make deps)" >&2
	exit 1
fi
if nm "$O/libsoccr.a" 2>/dev/null | grep -q __asan_init; then
	echo "valgrind: $O is a sanitizer build; use a plain one (make valgrind, without SAN=1)" >&2
	exit 1
fi

supp=()
[ -f tests/valgrind.supp ] && supp=(--suppressions=tests/valgrind.supp)
log=$(mktemp -d "${TMPDIR:-/tmp}/soccr-valgrind.XXXXXX") || exit 1
trap 'rm -rf "$log"' EXIT

pass=0
failed=()
for t in "$O"/tests/unit/test_*; do
	[ -x "$t" ] && [ -f "$t" ] || continue
	case "$t" in *.o | *.d) continue ;; esac
	name=$(basename "$t")
	printf '=== valgrind %s\n' "$name"
	if valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,possible \
		--errors-for-leak-kinds=definite,possible --track-origins=yes "${supp[@]}" \
		--log-file="$log/$name.log" "$t" >"$log/$name.out" 2>&1; then
		pass=$((pass + 1))
		printf -- '--- PASS valgrind %s\n' "$name"
	else
		failed+=("$name")
		tail -n 20 "$log/$name.out"
		cat "$log/$name.log"
		printf -- '--- FAIL valgrind %s\n' "$name"
	fi
done

echo
echo "valgrind: ${pass} unit test programs clean, ${#failed[@]} failed"
if [ $pass -eq 0 ] && [ ${#failed[@]} -eq 0 ]; then
	echo "valgrind: no unit test programs in $O/tests/unit/ (make tests)" >&2
	exit 1
fi
if [ ${#failed[@]} -ne 0 ]; then
	printf '  FAILED: %s\n' "${failed[@]}"
	exit 1
fi
exit 0
