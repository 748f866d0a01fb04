#!/usr/bin/env python3
"""irdoc.py - docs/ir.md's op table, made from src/ir/ops.def.

  tests/ops/irdoc.py           check: the table is ops.def's (exit 1 with a diff if not)
  tests/ops/irdoc.py --update  rewrite the table from ops.def

One row per op, in ops.def's order (read by optable.py): its name, arity,
kind, the function of the language that makes it (fn and fn_args) and its
notation, all from ops.def; then its adjoint rule in words, which only the
docs hold (kept by op name; a leaf's is "(leaf)", an op without a rule's
"(made by reverse mode; not differentiated)").  A new op gets a row to
write its rule into.  Also checks that docs/language.md's table of
functions names every function of ops.def.  tests/e2e/optable.sh runs the
check.
"""
import difflib
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optable  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
IR_MD = os.path.join(ROOT, "docs/ir.md")
LANGUAGE_MD = os.path.join(ROOT, "docs/language.md")
HEADER = ["| op | arity | kind | function | notation | adjoint rule |",
          "| --- | --- | --- | --- | --- | --- |"]
RULE_LEAF = "(leaf)"
RULE_NONE = "(made by reverse mode; not differentiated)"
RULE_TODO = "(write the adjoint rule here)"


def table_span(lines):
    """The first and one-past-last line of the op table in docs/ir.md."""
    start = next(i for i, l in enumerate(lines) if l.startswith("| op | arity | kind"))
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return start, end


def cells(line):
    return [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]


def main():
    update = "--update" in sys.argv[1:]
    ops = optable.read(ROOT)
    lines = open(IR_MD).read().split("\n")
    start, end = table_span(lines)
    have = lines[start:end]
    rules = {cells(l)[0].strip("`"): cells(l)[-1] for l in have[2:]}   # in words, by op
    want = list(HEADER)
    bad = []
    for op in ops:
        fn = "`%s(%s)`" % (op.fn, op.fn_args) if op.fn else ""
        if op.kind == "K_LEAF":
            rule = RULE_LEAF
        elif op.rule is None:
            rule = RULE_NONE
        else:
            rule = rules.get(op.name, RULE_TODO)
            if rule in (RULE_LEAF, RULE_NONE, RULE_TODO):
                bad.append("%s has an adjoint rule (%s): write it in docs/ir.md's table"
                           % (op.name, op.rule))
                rule = RULE_TODO
        want.append("| `%s` | %d | %s | %s | `%s` | %s |"
                    % (op.name, op.arity, op.kind[2:].lower(), fn, op.notation, rule))
    functions = open(LANGUAGE_MD).read().split("## Functions", 1)[-1].split("\n## ", 1)[0]
    for op in ops:
        if op.fn and not re.search(r"[`\s]%s[`(\s]" % re.escape(op.fn), functions):
            bad.append("docs/language.md's table of functions does not name %s" % op.fn)
    if update:
        lines[start:end] = want
        open(IR_MD, "w").write("\n".join(lines))
    elif have != want:
        sys.stdout.writelines(difflib.unified_diff([l + "\n" for l in have], [l + "\n" for l in want],
                                                   "docs/ir.md", "from src/ir/ops.def"))
        print("docs/ir.md's op table is not src/ir/ops.def's: tests/ops/irdoc.py --update")
        return 1
    for b in bad:
        print("irdoc.py: " + b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
