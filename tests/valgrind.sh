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

# The soccr tool's error paths (no privileges needed, nothing sent; not the save of a
# live pid: valgrind 3.19 does not know pidfd_open): each must end with
# its exit status and no memory error or leak.
fix=tests/fuzz/corpus/image
touch "$log/empty.img"
cli_cases=(
	"--bogus" "show" "show $log/nope" "show /dev/null" "show $log/empty.img"
	"show $fix/v4-established --json" "show $fix/header-only" "show $log"
	"restore" "restore -i a -i b" "restore -i $log/nope" "restore -i $fix/header-only"
	"restore -i $fix/v4-established -- $log/no-such-cmd" "save --pid 1 --pid 2"
	"save --pid 010 --fd x -o $log/x"
	"inject --src 1.2.3.4:0x10 --dst nonsense" "inject --seq 0x --ack 1" "lock add nonsense"
	"lock --bogus" "demo"
)
for args in "${cli_cases[@]}"; do
	name="soccr $args"
	# shellcheck disable=SC2086
	valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,possible \
		--errors-for-leak-kinds=definite,possible "${supp[@]}" --log-file="$log/cli.log" \
		"$O/soccr" $args >"$log/cli.out" 2>&1
	rc=$?
	if [ $rc -eq 99 ] || [ $rc -gt 3 ] || [ -s "$log/cli.log" ]; then
		failed+=("$name (exit $rc)")
		cat "$log/cli.log"
		printf -- '--- FAIL valgrind %s\n' "$name"
	else
		pass=$((pass + 1))
	fi
done
printf -- '--- valgrind: %d soccr error paths run\n' "${#cli_cases[@]}"

echo
echo "valgrind: ${pass} programs and error paths clean, ${#failed[@]} failed"
if [ $pass -eq 0 ] && [ ${#failed[@]} -eq 0 ]; then
	echo "valgrind: no unit test programs in $O/tests/unit/ (make tests)" >&2
	exit 1
fi
if [ ${#failed[@]} -ne 0 ]; then
	printf '  FAILED: %s\n' "${failed[@]}"
	exit 1
fi
exit 0
