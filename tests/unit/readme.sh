#!/bin/bash
# The README as a newcomer reads it: every command it shows is one a test
# runs, and every file it names is in the repository.
#
# - A command is a line of a ```sh block, or a line after a "# " or "$ "
#   prompt in a ```console block (continuation lines joined, a trailing
#   "  # comment" dropped). Each must appear, as written, in a test script
#   (tests/**/*.sh) or in .ci/run, outside comments (whitespace runs count
#   as one space). ```text blocks are not run by any test: they say why.
# - A `make TARGET...` command, in a block or in the prose, names targets the
#   GNUmakefile has.
# - Every repository path in backquotes (tests/..., src/..., docs/...) exists.
set -u
src=${SOCCR_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
exec python3 - "$src" <<'PY'
import glob, os, re, sys

src = sys.argv[1]
readme = open(os.path.join(src, "README.md"), encoding="utf-8").read()
npass = nfail = 0

def ok(msg):
    global npass
    npass += 1

def bad(msg):
    global nfail
    nfail += 1
    print("not ok - " + msg)

def norm(s):
    return re.sub(r"\s+", " ", s).strip()

def join_continuations(text):
    return re.sub(r"\\\n[ \t]*", " ", text)

# What the tests run: their lines outside comments, continuations joined.
corpus = []
files = glob.glob(os.path.join(src, "tests", "**", "*.sh"), recursive=True)
files.append(os.path.join(src, ".ci", "run"))
for f in files:
    text = join_continuations(open(f, encoding="utf-8").read())
    for line in text.split("\n"):
        if line.lstrip().startswith("#"):
            continue
        corpus.append(norm(line))
corpus = "\n".join(corpus)

# The README's fenced blocks.
commands = []
for m in re.finditer(r"^```(\w*)[^\n]*\n(.*?)^```", readme, re.S | re.M):
    lang, body = m.group(1), join_continuations(m.group(2))
    for line in body.split("\n"):
        if lang == "sh":
            cmd = line
            if cmd.lstrip().startswith("#"):
                continue
        elif lang == "console":
            if not (line.startswith("# ") or line.startswith("$ ")):
                continue
            cmd = line[2:]
        else:
            continue
        cmd = re.sub(r"\s{2,}#.*$", "", cmd)
        if norm(cmd):
            commands.append(norm(cmd))

# The GNUmakefile's targets.
targets = set()
for line in open(os.path.join(src, "GNUmakefile"), encoding="utf-8"):
    m = re.match(r"^([A-Za-z0-9_. -]+):(?!=)", line)
    if m:
        targets.update(m.group(1).split())

def check_make(cmd, where):
    args = [a for a in cmd.split()[1:] if "=" not in a and not a.startswith("-")]
    for t in args or ["all"]:
        if t in targets:
            ok(where)
        else:
            bad("%s: 'make %s': no such target in GNUmakefile" % (where, t))

for cmd in commands:
    if cmd.split()[0] == "make":
        check_make(cmd, "README command '%s'" % cmd)
    elif cmd in corpus:
        ok(cmd)
    else:
        bad("README command not run by any test: %s" % cmd)

# `make X` in the prose.
for m in re.finditer(r"`(make(?: [^`]*)?)`", readme):
    check_make(m.group(1), "README mentions `%s`" % m.group(1))

# Paths of the repository named in backquotes.
tops = ("tests/", "src/", "include/", "docs/", "man/", "scripts/", "debian/", "bpf/",
        "examples/", "completion/", ".ci/")
for m in re.finditer(r"`([^`\s]+)`", readme):
    p = m.group(1).rstrip(".,:")
    if not p.startswith(tops) or "*" in p or "<" in p or "{" in p:
        continue
    if os.path.exists(os.path.join(src, p)):
        ok(p)
    else:
        bad("README names %s, which is not in the repository" % p)
for name in ("DESIGN.md",):
    if name in readme:
        bad("README points to %s, not in the repository" % name)

print("# readme: %d commands checked; %d passed, %d failed" % (len(commands), npass, nfail))
sys.exit(1 if nfail else 0)
PY
