#!/usr/bin/python3
"""run_docs.py - runs every shell block of README.md and docs/*.md and
compares what each command prints with what the document shows.

The conventions (docs/tests.md says them for writers of docs):

- A shell block is a fenced block whose language is sh, bash, shell or
  console, or an unlabelled block whose first line begins with "$ ".
- Lines beginning with "$ " are commands (a line ending in a backslash goes
  on to the next); the lines up to the next command are what it prints
  (stdout and stderr), compared line by line.  A block without any "$ "
  line is a script: it runs as one, and must exit with status 0.  A command
  whose shown output has no "error" in it must exit with status 0 as well.
- In the shown output a line "..." stands for any number of lines (also
  none), and "..." inside a line for any text.  Runs of blanks match runs of
  blanks of any length.  Numbers are compared as numbers: by default to a
  relative 1e-6; an HTML comment on the line before the block,
  <!-- test: rtol=2% atol=1e-12 (why) -->, states another tolerance for the
  block (rtol=any: numbers are not compared, for timings; the text around
  them still is).
- <!-- test: norun (why) --> on the line before a block shows it without
  running it; the reason is required, and every such block is listed.
- Each document runs in its own copy of the checkout (the tracked files,
  with the built nnc and runtime linked in), its blocks in order in one
  shell, so files and `cd` carry over; each "## " section starts again at
  the top of the checkout.  `nnc` and `python3` on PATH are this checkout's
  nnc and /usr/bin/python3.

    run_docs.py [--jobs N] [--list] [DOC.md...]

prints one line per block: "PASS  docs/FILE:LINE" or "FAIL  docs/FILE:LINE"
followed by the line that differs and a diff (as tests/lib.sh does), and
"# not run: FILE:LINE (why)" for the blocks marked norun.
"""
import concurrent.futures
import difflib
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.environ.get("DOCS_OUT") or os.path.join(ROOT, "tests", "out", "docs-run")
SHELL_LANGS = {"sh", "bash", "shell", "console"}
DOC_TIMEOUT = int(os.environ.get("DOCS_TIMEOUT", "1200"))
# what `make` builds that the copies of the checkout link to
BUILT = ["nnc", "build", "runtime/libnnrt.a", "runtime/libnnrt.ldflags",
         "runtime/nnc-jit.so", "runtime/nnrt-mpi.so",
         "runtime/board/echarts.min.js", "runtime/board/echarts.LICENSE"]


class Block:
    def __init__(self, doc, line, lang, lines, directive, section):
        self.doc, self.line, self.lang = doc, line, lang
        self.lines = lines            # the block's text lines
        self.section = section        # the "## " heading it is under
        self.norun = None
        self.rtol, self.atol = 1e-6, 0.0
        self.commands = []            # (line, command text, [expected lines])
        self.script = None            # (line, text) for a script block
        self.output_of = None         # the command whose output the block shows
        self.excerpt = False          # ... a part of it
        self.file = None              # the block is this file's text
        self.parse_directive(directive)
        self.split()

    def where(self, line=None):
        return "%s:%d" % (self.doc, line or self.line)

    def parse_directive(self, d):
        if d is None:
            return
        m = re.match(r"\s*norun\b\s*(.*)", d, re.S)
        if m:
            why = m.group(1).strip().strip("()")
            if not why:
                raise SyntaxError("%s: norun needs a reason: <!-- test: norun (why) -->" % self.where())
            self.norun = why
            return
        m = re.match(r"\s*file\s+(\S+)\s*$", d)
        if m:
            self.file = m.group(1)
            return
        # [rtol=R] [atol=A] [(why)] in any order, then [output of CMD | excerpt of CMD]
        m = re.search(r"\b(output|excerpt) of (.*)$", d, re.S)
        if m:
            self.output_of, self.excerpt = m.group(2).strip(), m.group(1) == "excerpt"
            d = d[:m.start()]
        d = re.sub(r"\([^)]*\)", " ", d)
        for tok in d.split():
            km = re.match(r"(rtol|atol)=(\S+)$", tok)
            if not km:
                raise SyntaxError("%s: unknown test directive %r" % (self.where(), tok))
            key, val = km.groups()
            if val == "any":
                setattr(self, key, None)
            elif val.endswith("%"):
                setattr(self, key, float(val[:-1]) / 100)
            else:
                setattr(self, key, float(val))

    def split(self):
        if self.file:
            # written as it is, in the shell's current directory
            text = "\n".join(self.lines)
            self.script = (self.line, "cat > %s <<'NNC_DOC_EOF'\n%s\nNNC_DOC_EOF" % (shlex.quote(self.file), text))
            return
        if self.output_of:
            out = list(self.lines)
            while out and not out[-1].strip():
                out.pop()
            if self.excerpt:
                out = ["..."] + out + ["..."]
            self.commands.append((self.line - (1 if self.excerpt else 0), self.output_of, out, self.line + 1))
            return
        if not any(l.startswith("$ ") for l in self.lines):
            self.script = (self.line + 1, "\n".join(self.lines))
            return
        i = 0
        while i < len(self.lines):
            l = self.lines[i]
            if not l.startswith("$ "):
                if l.strip():
                    raise SyntaxError("%s: text before the first command" % self.where(self.line + 1 + i))
                i += 1
                continue
            start = i
            cmd = [l[2:]]
            while not complete("\n".join(cmd)) and i + 1 < len(self.lines):
                i += 1
                cmd.append(self.lines[i])
            i += 1
            out = []
            while i < len(self.lines) and not self.lines[i].startswith("$ "):
                out.append(self.lines[i])
                i += 1
            while out and not out[-1].strip():
                out.pop()
            self.commands.append((self.line + 1 + start, "\n".join(cmd), out,
                                  self.line + 2 + start + len(cmd) - 1))


def complete(cmd):
    """Whether a command is whole: no trailing backslash, no open quote,
    loop or other compound command (bash -n says "unexpected end of file")."""
    if cmd.endswith("\\"):
        return False
    try:
        shlex.split(cmd, comments=True)
    except ValueError:
        return False
    p = subprocess.run(["bash", "-n", "-c", cmd], capture_output=True, text=True)
    return "unexpected end of file" not in p.stderr


def parse(doc):
    """The shell blocks of one markdown file, in order, and the sections."""
    blocks = []
    text = open(os.path.join(ROOT, doc)).read().split("\n")
    section = ""
    i = 0
    while i < len(text):
        l = text[i]
        m = re.match(r"^(`{3,})\s*(.*)$", l)
        if m:
            fence, info = m.group(1), m.group(2).split()
            lang = info[0] if info else ""
            j = i + 1
            while j < len(text) and not text[j].startswith(fence):
                j += 1
            body = text[i + 1:j]
            directive = None
            k = i - 1
            if k >= 0 and text[k].rstrip().endswith("-->"):
                while k > 0 and "<!--" not in text[k]:
                    k -= 1
                c = " ".join(t.strip() for t in text[k:i])
                dm = re.match(r"<!--\s*test:(.*)-->$", c.strip(), re.S)
                if dm:
                    directive = dm.group(1).strip()
            shell = lang in SHELL_LANGS or (lang == "" and body and body[0].startswith("$ "))
            if shell:
                blocks.append(Block(doc, i + 1, lang, body, directive, section))
            elif directive is not None and re.search(r"\b(output|excerpt) of |^file ", directive) or directive and directive.startswith("norun"):
                blocks.append(Block(doc, i + 1, lang, body, directive, section))
            elif directive is not None:
                raise SyntaxError("%s:%d: a test directive on a block that is not a shell block" % (doc, i + 1))
            i = j + 1
            continue
        if l.startswith("## "):
            section = l
        i += 1
    return blocks


# ---- comparing output ------------------------------------------------------

NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"


def line_regex(exp):
    """A regex for one shown line: numbers become groups, '...' any text."""
    exp = exp.strip()
    parts, nums = [], []
    pos = 0
    for m in re.finditer(r"\.\.\.|\s+|" + r"(?<![\w.])" + NUM, exp):
        parts.append(re.escape(exp[pos:m.start()]))
        tok = m.group(0)
        if tok == "...":
            parts.append(".*?")
        elif tok.isspace():
            before = exp[m.start() - 1] if m.start() > 0 else " "
            after = exp[m.end()] if m.end() < len(exp) else " "
            parts.append(r"\s+" if before.isalnum() and after.isalnum() else r"\s*")
        else:
            parts.append("(" + NUM + ")")
            nums.append(tok)
        pos = m.end()
    parts.append(re.escape(exp[pos:]))
    return re.compile("".join(parts) + "$"), nums


def numbers_close(exp, act, rtol, atol):
    if rtol is None:
        return True
    e, a = float(exp), float(act)
    return abs(e - a) <= atol + rtol * max(abs(e), abs(a))


def line_matches(exp, act, rtol, atol):
    rx, nums = line_regex(exp)
    m = rx.match(act.strip())
    if not m:
        return False
    got = m.groups()
    if len(got) != len(nums):
        return False
    return all(numbers_close(e, a, rtol, atol) for e, a in zip(nums, got))


def match(expected, actual, rtol, atol):
    """Whether the shown lines match the printed ones; else the index of the
    first shown line that could not be matched."""
    memo = {}
    best = [0]

    def go(i, j):
        key = (i, j)
        if key in memo:
            return memo[key]
        best[0] = max(best[0], i)
        if i == len(expected):
            r = j == len(actual)
        elif expected[i].strip() == "...":
            r = any(go(i + 1, k) for k in range(j, len(actual) + 1))
        else:
            r = j < len(actual) and line_matches(expected[i], actual[j], rtol, atol) and go(i + 1, j + 1)
        memo[key] = r
        return r

    sys.setrecursionlimit(100000)
    return (True, None) if go(0, 0) else (False, min(best[0], len(expected) - 1))


# ---- running ---------------------------------------------------------------

def make_checkout(dest):
    """A copy of the checkout as a fresh clone would have it after make."""
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files", "-z"], check=True,
                               capture_output=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        files = []
        for d, dirs, fs in os.walk(ROOT):
            dirs[:] = [x for x in dirs if not x.startswith(".") and
                       os.path.relpath(os.path.join(d, x), ROOT) not in ("build", "tests/out")]
            files += [os.path.relpath(os.path.join(d, f), ROOT) for f in fs]
    for f in files:
        src = os.path.join(ROOT, f)
        if not f or not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, f))
    for f in BUILT:
        if os.path.exists(os.path.join(ROOT, f)):
            os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
            if os.path.lexists(os.path.join(dest, f)):
                os.remove(os.path.join(dest, f))
            os.symlink(os.path.join(ROOT, f), os.path.join(dest, f))


def run_doc(doc, blocks):
    """Runs one document's blocks; returns (report lines, failures, seconds by command)."""
    name = doc.replace("/", "_").replace(".md", "")
    work = os.path.join(OUT, name)
    checkout = os.path.join(work, "checkout")
    make_checkout(checkout)
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir, exist_ok=True)
    for prog, target in (("nnc", os.path.join(ROOT, "nnc")), ("python3", "/usr/bin/python3")):
        p = os.path.join(bindir, prog)
        if not os.path.lexists(p):
            os.symlink(target, p)
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)

    script = ["cd \"$DOC_ROOT\""]
    units = []                        # (block, line, command, expected, kind)
    section = None
    for b in blocks:
        if b.norun:
            continue
        if b.section != section:
            script.append("cd \"$DOC_ROOT\"")
            section = b.section
        items = [(b.script[0], b.script[1], None)] if b.script else [(l, c, o) for l, c, o, _ in b.commands]
        for line, cmd, exp in items:
            k = len(units)
            units.append((b, line, cmd, exp))
            script.append("printf '\\036B %d\\n'" % k)
            script.append(cmd)
            script.append("printf '\\n\\036E %d %%d %%s\\n' $? \"$(date +%%s.%%N)\"" % k)
    path = os.path.join(work, "doc.sh")
    with open(path, "w") as f:
        f.write("\n".join(script) + "\n")
    env = dict(os.environ)
    env.update(DOC_ROOT=checkout, PATH=bindir + ":" + env.get("PATH", "/usr/bin:/bin"),
               HOME=home, NNC_CACHE_DIR=os.path.join(work, "cache"), LC_ALL="C.UTF-8")
    env.pop("NNC", None)
    t0 = time.time()
    try:
        p = subprocess.run(["bash", path], cwd=checkout, env=env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=DOC_TIMEOUT,
                           start_new_session=True)
        raw = p.stdout.decode(errors="replace")
        timed_out = False
    except subprocess.TimeoutExpired as e:
        raw = (e.stdout or b"").decode(errors="replace")
        timed_out = True
    with open(os.path.join(work, "output.txt"), "w") as f:
        f.write(raw)
    # split the output at the markers
    outputs, status, ends = {}, {}, {}
    cur, buf = None, []
    for piece in re.split(r"(\036[BE] [^\n]*\n)", raw):
        m = re.match(r"\036([BE]) (\d+)(?: (\d+) (\S+))?\n", piece)
        if m and m.group(1) == "B":
            cur, buf = int(m.group(2)), []
        elif m and m.group(1) == "E":
            k = int(m.group(2))
            text = "".join(buf)
            if text.endswith("\n"):
                text = text[:-1]
            outputs[k], status[k], ends[k] = text, int(m.group(3)), float(m.group(4))
            cur = None
        elif cur is not None:
            buf.append(piece)
    if cur is not None and cur not in outputs:
        outputs[cur], status[cur] = "".join(buf), None
    report, failures, times = [], 0, []
    prev = t0
    by_block = {}
    for k, (b, line, cmd, exp) in enumerate(units):
        by_block.setdefault(b, []).append(k)
    for b in blocks:
        if b.norun:
            report.append("# not run: %s (%s)" % (b.where(), b.norun))
            continue
        problems = []
        for k in by_block.get(b, []):
            _, line, cmd, exp = units[k]
            if k in ends:
                times.append((ends[k] - prev, "%s: %s" % (b.where(line), cmd.split("\n")[0][:70])))
                prev = ends[k]
            if k not in outputs:
                problems.append("%s: not run (%s)" % (b.where(line), "the document's run timed out after %d s" % DOC_TIMEOUT
                                                          if timed_out else "an earlier command ended the shell"))
                break
            act = [l.rstrip() for l in outputs[k].split("\n")]
            while act and not act[-1].strip():
                act.pop()
            if status[k] is None:
                problems.append("%s: $ %s\n  did not finish (%s); it printed:\n%s" % (
                    b.where(line), cmd, "timeout after %d s" % DOC_TIMEOUT if timed_out else "the shell ended",
                    "\n".join("  " + l for l in act[-20:])))
                break
            if exp is None:
                if status[k] != 0:
                    problems.append("%s: the block exited with status %d; it printed:\n%s" % (
                        b.where(line), status[k], "\n".join("  " + l for l in act[-30:])))
                continue
            ok, bad = match(exp, act, b.rtol, b.atol)
            if status[k] != 0 and not any("error" in l.lower() for l in exp):
                problems.append("%s: $ %s\n  exited with status %d" % (b.where(line), cmd, status[k]))
            if not ok:
                out_line = units[k][1] + cmd.count("\n") + 1
                at = out_line + bad if bad is not None else line
                tol = "rtol=%s" % ("any" if b.rtol is None else "%g" % b.rtol)
                if b.atol:
                    tol += " atol=%g" % b.atol
                if b.excerpt and bad is not None:
                    # the whole file against a part of it: show the line that
                    # was not found and the printed lines most like it
                    near = difflib.get_close_matches(exp[bad].strip(), [l.strip() for l in act], 3, 0.5)
                    diff = ["shown:   " + exp[bad]] + ["printed: " + l for l in near or ["(nothing like it)"]]
                else:
                    diff = difflib.unified_diff(exp, act, "shown in %s" % b.doc, "printed", lineterm="", n=2)
                problems.append("%s: the output of `%s` differs (numbers to %s):\n%s" % (
                    b.where(at), cmd.split("\n")[0], tol, "\n".join("  " + l for l in list(diff)[:60])))
        if problems:
            failures += 1
            report.append("FAIL  %s" % b.where())
            for p in problems:
                report += ["      | " + l for l in p.split("\n")]
        else:
            report.append("PASS  %s" % b.where())
    return report, failures, times, time.time() - t0


def main(argv):
    jobs = int(os.environ.get("DOCS_JOBS", "2"))
    docs = []
    listing = False
    i = 0
    while i < len(argv):
        if argv[i] == "--jobs":
            jobs = int(argv[i + 1]); i += 1
        elif argv[i] == "--list":
            listing = True
        else:
            docs.append(os.path.relpath(os.path.abspath(argv[i]), ROOT))
        i += 1
    if not docs:
        docs = ["README.md"] + sorted("docs/" + f for f in os.listdir(os.path.join(ROOT, "docs")) if f.endswith(".md"))
    parsed = {}
    for d in docs:
        try:
            parsed[d] = parse(d)
        except SyntaxError as e:
            print("FAIL  %s\n      | %s" % (d, e))
            return 1
    if listing:
        for d in docs:
            for b in parsed[d]:
                kind = "norun" if b.norun else ("script" if b.script else "%d commands" % len(b.commands))
                print("%s  %s" % (b.where(), kind))
        return 0
    os.makedirs(OUT, exist_ok=True)
    t0 = time.time()
    fails = 0
    alltimes = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        # the documents with most commands first, so that the longest is not
        # left to run alone at the end; reported in the usual order
        order = sorted((d for d in docs if parsed[d]), key=lambda d: -sum(len(b.commands) or 1 for b in parsed[d]))
        subs = {d: ex.submit(run_doc, d, parsed[d]) for d in order}
        futs = [(d, subs[d]) for d in docs if d in subs]
        for d, fu in futs:
            report, f, times, secs = fu.result()
            print("# %s: %d blocks, %.0f s" % (d, len(parsed[d]), secs))
            for l in report:
                print(l)
            sys.stdout.flush()
            fails += f
            alltimes += times
    n = sum(len(b) for b in parsed.values())
    norun = sum(1 for b in parsed.values() for x in b if x.norun)
    cmds = sum(len(x.commands) or 1 for b in parsed.values() for x in b if not x.norun)
    print("# docs: %d shell blocks (%d commands) run in %.0f s, %d shown but not run (listed above)"
          % (n - norun, cmds, time.time() - t0, norun))
    for t, what in sorted(alltimes, reverse=True)[:5]:
        print("#   %5.1f s  %s" % (t, what))
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
