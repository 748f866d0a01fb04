"""optable.py - nnc's op table as the tests see it.

Reads the two files that hold an op's knowledge inside the compiler:

  src/ir/ops.def   one row per op: OP(CODE, "name", arity, K_KIND, ...).  The
                   first four fields are positional; of the rest, the first
                   string is the op's notation (the language's own spelling,
                   `$0 + $1`, `relu($0)`) and a field `ad_NAME` its adjoint
                   rule; the 8th and 9th, when there, the function of the
                   language that makes the op and its arguments (fn, fn_args:
                   a string or NULL).
  src/ad/rules.c   the rules: for each `static void ad_NAME(...)`, the ops
                   its body makes (every OP_CODE it names).

An op with a rule is *user-facing* (the language makes it, reverse mode
differentiates it); one without, other than K_LEAF and K_ADJ, is *internal*
(made only by reverse mode, inside some rule).  Used by tests/ops/suite.py
and tests/torch/compare.py.
"""
import os
import re

OPS_DEF = "src/ir/ops.def"
RULES_C = "src/ad/rules.c"


class Op:
    __slots__ = ("code", "name", "arity", "kind", "notation", "rule", "makes", "fn", "fn_args")

    def __repr__(self):
        return "Op(%s)" % self.name

    @property
    def user_facing(self):
        return self.rule is not None

    @property
    def internal(self):
        return self.rule is None and self.kind not in ("K_LEAF", "K_ADJ")


def _strip_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


def _fields(text, start):
    """The comma-separated fields of the call whose '(' is at text[start]:
    (fields, index after the closing ')').  Commas inside strings or nested
    parentheses do not split."""
    fields, cur, depth, i, s = [], [], 0, start + 1, None
    while i < len(text):
        c = text[i]
        if s:
            cur.append(c)
            if c == "\\":
                cur.append(text[i + 1])
                i += 1
            elif c == s:
                s = None
        elif c in "\"'":
            s = c
            cur.append(c)
        elif c == "(":
            depth += 1
            cur.append(c)
        elif c == ")":
            if depth == 0:
                fields.append("".join(cur).strip())
                return fields, i + 1
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            fields.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    raise ValueError("%s: unterminated OP( row" % OPS_DEF)


def _string(field):
    """A C string literal (or adjacent ones) as text; None for NULL."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"', field)
    return "".join(parts) if parts else None


def read_rules(root):
    """rules.c: {rule function name: [codes of the ops its body makes]}."""
    text = _strip_comments(open(os.path.join(root, RULES_C)).read())
    rules = {}
    for m in re.finditer(r"^(?:static\s+)?void\s+(ad_\w+)\s*\([^)]*\)\s*\{", text, re.M):
        end = text.find("\n}", m.end())
        rules[m.group(1)] = re.findall(r"\bOP_(\w+)", text[m.end():end])
    return rules


def read(root):
    """ops.def's rows in order, each an Op; raises ValueError on a malformed row."""
    text = _strip_comments(open(os.path.join(root, OPS_DEF)).read())
    rules = read_rules(root)
    ops = []
    for m in re.finditer(r"^OP\(", text, re.M):
        f, _ = _fields(text, m.end() - 1)
        if len(f) < 4 or not f[2].isdigit() or not f[3].startswith("K_"):
            raise ValueError("%s: row %r: expected OP(CODE, \"name\", arity, K_KIND, ...)"
                             % (OPS_DEF, ", ".join(f)))
        op = Op()
        op.code, op.name, op.arity, op.kind = f[0], _string(f[1]), int(f[2]), f[3]
        strings = [_string(x) for x in f[4:] if x.startswith('"')]
        op.notation = strings[0] if strings else None
        named = [x for x in f[4:] if re.fullmatch(r"ad_\w+", x)]
        op.rule = named[0] if named else None
        if op.rule is not None and op.rule not in rules:
            raise ValueError("%s: %s names the rule %s, which %s does not define"
                             % (OPS_DEF, op.code, op.rule, RULES_C))
        op.makes = rules.get(op.rule, [])
        op.fn, op.fn_args = (_string(f[7]), _string(f[8])) if len(f) > 8 else (None, None)
        ops.append(op)
    return ops
