#!/bin/bash
# The documentation against the tool and the headers: every command of
# `soccr --help` has a section in soccr(8) and is completed; every long option
# a command's --help (or its source's option table) names is in that command's
# section of soccr(8) or in GLOBAL OPTIONS, and is offered by the completion
# for that command; every function libsoccr(3) names in bold is declared in
# include/soccr/*.h; both pages format without a groff warning; the completion
# parses. No root needed.
set -u
src=${SOCCR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
SOCCR=${SOCCR:-${SOCCR_BUILD:-$src/build}/soccr}
man8=$src/man/soccr.8
man3=$src/man/libsoccr.3
comp=$src/completion/soccr
tmp=$(mktemp -d /tmp/soccr-docs.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
bad() { fail=$((fail + 1)); echo "not ok - $*"; }

for f in "$man8" "$man3" "$comp"; do
	[ -f "$f" ] && ok "$f exists" || bad "missing $f"
done
if [ ! -x "$SOCCR" ]; then
	bad "no soccr tool at $SOCCR (set SOCCR or SOCCR_BUILD)"
	echo "# $pass passed, $fail failed"
	exit 1
fi
[ "$fail" = 0 ] || { echo "# $pass passed, $fail failed"; exit 1; }

# roff source to plain text for grepping: \- is -, font changes go.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(aq/'"'"'/g' "$1"; }
plain "$man8" >"$tmp/soccr.8.txt"

# The text of one section of soccr(8): from its .SH/.SS line to the next one.
section_sh() { # name
	awk -v n="$1" '/^\.SH /{on = ($0 == ".SH " n || $0 == ".SH \"" n "\"")} on' "$tmp/soccr.8.txt"
}
section_cmd() { # command
	awk -v c="$1" '
		/^\.S[HS] / { on = ($0 ~ "^\\.SS \"?soccr " c "([ \"]|$)") }
		on' "$tmp/soccr.8.txt"
}
section_sh "GLOBAL OPTIONS" >"$tmp/global.txt"
[ -s "$tmp/global.txt" ] && ok "soccr(8) has GLOBAL OPTIONS" || bad "soccr(8): no GLOBAL OPTIONS section"
for s in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" ENVIRONMENT "JSON OUTPUT" EXAMPLES "SEE ALSO"; do
	grep -qx "\.SH \"\?$s\"\?" "$tmp/soccr.8.txt" && ok "soccr(8) has $s" ||
		bad "soccr(8): no $s section"
done
grep -q '^\.TH soccr 8 [0-9]\{4\}-[0-9][0-9]-[0-9][0-9]' "$man8" && ok "soccr(8): .TH soccr 8 DATE" ||
	bad "soccr(8): .TH is not 'soccr 8 YYYY-MM-DD'"
grep -q '^\.TH libsoccr 3 [0-9]\{4\}-[0-9][0-9]-[0-9][0-9]' "$man3" &&
	ok "libsoccr(3): .TH libsoccr 3 DATE" || bad "libsoccr(3): .TH is not 'libsoccr 3 YYYY-MM-DD'"
for v in SOCCR_PIN_DIR SOCCR_DEBUG SOCCR_NO_TCX LISTEN_FDS LISTEN_PID LISTEN_FDNAMES; do
	section_sh ENVIRONMENT | grep -q "$v" && ok "ENVIRONMENT names $v" || bad "ENVIRONMENT lacks $v"
done

# The completion, called as bash calls it: the words, the cursor on the last one.
complete_words() { # words... -> COMPREPLY, one per line
	bash -c '
		source "$1" || exit 1
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_soccr soccr "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' complete "$comp" "$@"
}

if bash -n "$comp" 2>"$tmp/err"; then ok "bash -n completion/soccr"; else
	bad "bash -n completion/soccr"
	sed 's/^/#   /' "$tmp/err"
fi

# The commands: the lines under "commands:" in `soccr --help`.
"$SOCCR" --help >"$tmp/help" 2>&1 || bad "soccr --help exits non-zero"
cmds=$(awk '/^commands:/{on = 1; next} on && /^$/{exit} on {print $1}' "$tmp/help")
[ -n "$cmds" ] && ok "soccr --help lists commands: $(echo $cmds)" || bad "no commands in soccr --help"
complete_words soccr "" >"$tmp/c.cmds"
for c in $cmds; do
	section_cmd "$c" >"$tmp/sec.$c"
	[ -s "$tmp/sec.$c" ] && ok "soccr(8) has a section for '$c'" ||
		bad "soccr(8): no '.SS \"soccr $c ...\"' section"
	grep -qx -- "$c" "$tmp/c.cmds" && ok "completion offers command '$c'" ||
		bad "completion does not offer command '$c'"
done

# The global options: those of `soccr --help`, in GLOBAL OPTIONS and completed anywhere.
global=$(awk '/^global options/{on = 1; next} on && /^$/{exit} on' "$tmp/help" |
	grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
for o in $global; do
	grep -q -- "$o\b" "$tmp/global.txt" && ok "GLOBAL OPTIONS documents $o" ||
		bad "GLOBAL OPTIONS lacks $o"
done
complete_words soccr - >"$tmp/c.global"
for o in $global; do
	grep -qx -- "$o" "$tmp/c.global" && ok "completion offers $o before a command" ||
		bad "completion does not offer $o before a command"
done

# The long options a --help defines: in its usage block, at the start of a line
# (after an optional "-x, "), in brackets, or followed by an upper-case metavariable.
# Prose such as "nsenter --net" is none of these.
help_opts() { # file
	{
		awk '/^usage:/{on = 1} on && /^$/{exit} on' "$1"
		sed -n 's/^[[:space:]]*\(-[A-Za-z0-9], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\2/p' "$1"
		grep -o -- '\[--[a-z][a-z0-9-]*' "$1"
		grep -o -- '--[a-z][a-z0-9-]* [A-Z]' "$1"
	} | grep -o -- '--[a-z][a-z0-9-]*' | sort -u
}
# The long options of a command's source: its struct option table.
src_opts() { # command
	local f=$src/src/cli/cmd_$1.c
	[ -f "$f" ] || return 0
	sed -n 's/.*{ *"\([a-z][a-z0-9-]*\)", *\(no\|required\|optional\)_argument.*/--\1/p' "$f" |
		sort -u
}

for c in $cmds; do
	"$SOCCR" "$c" --help >"$tmp/help.$c" 2>&1
	rc=$?
	[ "$rc" = 0 ] && ok "soccr $c --help exits 0" || bad "soccr $c --help exits $rc"
	{ help_opts "$tmp/help.$c"; src_opts "$c"; } | sort -u >"$tmp/opts.$c"
	complete_words soccr "$c" -- >"$tmp/c.$c"
	n=0
	while read -r o; do
		[ "$o" = --help ] && continue
		n=$((n + 1))
		if grep -q -- "$o\b" "$tmp/sec.$c" || grep -q -- "$o\b" "$tmp/global.txt"; then
			ok "soccr(8) documents $c $o"
		else
			bad "soccr(8): $o of '$c' is neither in its section nor in GLOBAL OPTIONS"
		fi
		grep -qx -- "$o" "$tmp/c.$c" && ok "completion offers $c $o" ||
			bad "completion does not offer $o after 'soccr $c'"
	done <"$tmp/opts.$c"
	echo "# $c: $n long options"
done

# The lock subcommands: in its section and completed after 'soccr lock'.
if grep -qx lock <<<"$cmds"; then
	subs=$(sed -n 's/^  \([a-z][a-z]*\) .*/\1/p; s/^  \([a-z][a-z]*\)$/\1/p' "$tmp/help.lock" | sort -u)
	complete_words soccr lock "" >"$tmp/c.locksub"
	for s in $subs; do
		grep -Eq "^(\\.B )?$s( |\$)" "$tmp/sec.lock" && ok "soccr(8) documents lock $s" ||
			bad "soccr(8): no item for 'lock $s'"
		grep -qx -- "$s" "$tmp/c.locksub" && ok "completion offers lock $s" ||
			bad "completion does not offer 'lock $s'"
	done
fi

# Completion of values: pids, interfaces, directories.
complete_words soccr ps "" | grep -qx 1 && ok "completion: 'soccr ps' offers pids" ||
	bad "completion: 'soccr ps' offers no pid"
complete_words soccr save --pid "" | grep -qx "$$" && ok "completion: --pid offers pids" ||
	bad "completion: --pid does not offer this shell's pid"
if [ -e /sys/class/net/lo ]; then
	complete_words soccr lock attach --dev l | grep -qx lo &&
		ok "completion: --dev offers interfaces" || bad "completion: --dev does not offer lo"
fi
complete_words soccr -j restore -i x -- "" >/dev/null && ok "completion: after restore's --" ||
	bad "completion fails after restore's --"

# libsoccr(3): every function it names in bold is declared in the headers.
{
	# \fBname\fP( or \fBname\fR(
	grep -o '\\fB[a-z_][a-z0-9_]*\\f[PR](' "$man3" | sed 's/\\fB\([a-z0-9_]*\).*/\1/'
	# .B/.BR/.BI lines: "name (" or "name(" (SYNOPSIS prototypes, ".BR name ()")
	grep -E '^\.(B|BR|BI) ' "$man3" | grep -oE '[a-z_][a-z0-9_]*"? ?\(' | grep -oE '^[a-z_][a-z0-9_]*'
} | grep '_' | sort -u >"$tmp/funcs"
nf=$(wc -l <"$tmp/funcs")
[ "$nf" -gt 20 ] && ok "libsoccr(3) names $nf functions in bold" ||
	bad "libsoccr(3) names only $nf functions in bold (the pattern or the page is off)"
while read -r fn; do
	grep -qE "\b$fn\(" "$src"/include/soccr/*.h && ok "libsoccr(3): $fn is declared" ||
		bad "libsoccr(3) names $fn(), which no include/soccr/*.h declares"
done <"$tmp/funcs"
# Each header has its part of the page.
for h in soccr restore lock inject packet image verify; do
	grep -q "<soccr/$h.h>" "$man3" && ok "libsoccr(3) covers <soccr/$h.h>" ||
		bad "libsoccr(3) does not mention <soccr/$h.h>"
done
grep -q '^\.SH "\?USING IT WITH CRIU"\?$' "$man3" && ok "libsoccr(3) has USING IT WITH CRIU" ||
	bad "libsoccr(3): no USING IT WITH CRIU section"

# groff: no warning for either page.
if command -v groff >/dev/null 2>&1; then
	for p in "$man8" "$man3"; do
		if LC_ALL=C.UTF-8 groff -man -Tutf8 -ww -z "$p" >"$tmp/groff" 2>&1 && [ ! -s "$tmp/groff" ]; then
			ok "groff -man -ww: no warning for ${p##*/}"
		else
			bad "groff -man -ww warns for ${p##*/}"
			sed 's/^/#   /' "$tmp/groff"
		fi
	done
else
	echo "# !!! SKIPPED: groff is not installed: the man pages' formatting is NOT checked !!!"
fi

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
