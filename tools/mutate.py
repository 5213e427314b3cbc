"""A small AST mutation runner: one mutant at a time on a copy of the repo, related tests only.

usage: python tools/mutate.py REPO MODULE_PATH --tests "pytest args" --out file.json
           [--funcs a,b] [--only i,j] [--list] [--force] [--work DIR]

Run it with the project's interpreter (the tests run under the same one, sys.executable), e.g.

    nice -n 10 .venv/bin/python tools/mutate.py . gpubp/kernels.py \
        --tests "tests/test_kernels.py" --out /tmp/mut/kernels.json

It copies REPO (less .git, docs, benchmarks, docker) to /tmp/mut/work_<module> (e.g. work_kernels,
work_cli_train; --work to choose), runs the tests there once under coverage (the `coverage`
package: installed, or found on $GPUBP_MUT_COVERAGE_PATH, default /tmp/covonly), then once per
mutant with pytest -x -q -p no:cacheprovider and GPUBP_SKIP_IMAGE_BUILD=1. --list prints the
mutation points without running anything. The JSON written to --out lists each mutant's index,
line, operator and status (killed, survived, timeout, uncovered); --only i,j re-runs some.

Operators: binary op swaps (+-, */, //->/, **->*, %->*), augmented assignment swaps, comparison
swaps (< <=, > >=, == !=, is / is not, in / not in), and/or swap, `not` removal, numeric constant
n -> n+1 (and 0.0 -> 1.0, 1 -> 0 for 1), True<->False, None->0 in comparisons no, and deletion of
expression statements (calls) and of `return X` -> `return None`... see MUTATORS below.
Mutants on lines the tests never execute (coverage of the baseline run) count as survived
without a run ("uncovered").
"""
import argparse
import ast
import copy
import json
import os
import shutil
import subprocess
import sys
import time

PY = sys.executable
COVPATH = os.environ.get("GPUBP_MUT_COVERAGE_PATH", "/tmp/covonly")
BINSWAP = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
           ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.Mult,
           ast.BitOr: ast.BitAnd, ast.BitAnd: ast.BitOr, ast.MatMult: ast.Mult}
CMPSWAP = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt,
           ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
           ast.In: ast.NotIn, ast.NotIn: ast.In}


def is_docstring(node, parent):
    return (isinstance(parent, ast.Expr) and isinstance(node, ast.Constant)
            and isinstance(node.value, str))


def points(tree, funcs):
    """Yield (index, lineno, stmt_lineno, description) for every mutation point, in walk order."""
    out = []

    def visit(node, in_scope, stmt_line, in_fstring):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and funcs:
            in_scope = in_scope or node.name in funcs
        if isinstance(node, ast.stmt):
            stmt_line = node.lineno
        if isinstance(node, ast.JoinedStr):
            in_fstring = True
        if in_scope and not in_fstring:
            out.extend((node, stmt_line, d) for d in describe(node))
        for child in ast.iter_child_nodes(node):
            visit(child, in_scope, stmt_line, in_fstring)

    visit(tree, not funcs, 0, False)
    return out


def describe(node):
    if isinstance(node, ast.BinOp) and type(node.op) in BINSWAP:
        yield ("binop", f"{type(node.op).__name__}->{BINSWAP[type(node.op)].__name__}")
    if isinstance(node, ast.AugAssign) and type(node.op) in BINSWAP:
        yield ("augop", f"{type(node.op).__name__}=->{BINSWAP[type(node.op)].__name__}=")
    if isinstance(node, ast.Compare):
        for i, op in enumerate(node.ops):
            if type(op) in CMPSWAP:
                yield ("cmp", i, f"{type(op).__name__}->{CMPSWAP[type(op)].__name__}")
    if isinstance(node, ast.BoolOp):
        yield ("boolop", "and<->or")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        yield ("notdel", "drop not")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield ("negdel", "drop unary minus")
    if isinstance(node, ast.Constant) and not isinstance(node.value, str):
        v = node.value
        if isinstance(v, bool):
            yield ("const", f"{v}->{not v}")
        elif isinstance(v, (int, float)):
            yield ("const", f"{v}->{v + 1}")
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        yield ("stmtdel", "call statement -> pass")
    if isinstance(node, (ast.Assign, ast.AugAssign)) and not isinstance(
            getattr(node, "value", None), ast.Constant):
        yield ("stmtdel", "assignment -> pass")
    if isinstance(node, ast.Return) and node.value is not None and not (
            isinstance(node.value, ast.Constant) and node.value.value is None):
        yield ("retnone", "return X -> return None")
    if isinstance(node, ast.If):
        yield ("ifnot", "if c -> if not c")
    if isinstance(node, ast.Break):
        yield ("breakcont", "break -> continue")


def apply(node, desc):
    kind = desc[0]
    if kind == "binop":
        node.op = BINSWAP[type(node.op)]()
    elif kind == "augop":
        node.op = BINSWAP[type(node.op)]()
    elif kind == "cmp":
        node.ops[desc[1]] = CMPSWAP[type(node.ops[desc[1]])]()
    elif kind == "boolop":
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif kind in ("notdel", "negdel"):
        return node.operand
    elif kind == "const":
        v = node.value
        node.value = (not v) if isinstance(v, bool) else v + 1
    elif kind == "stmtdel":
        return ast.Pass()
    elif kind == "retnone":
        node.value = ast.Constant(None)
    elif kind == "ifnot":
        node.test = ast.UnaryOp(ast.Not(), node.test)
    elif kind == "breakcont":
        return ast.Continue()
    return node


def mutant_source(source, funcs, index):
    tree = ast.parse(source)
    node, _, desc = points(tree, funcs)[index]

    class T(ast.NodeTransformer):
        def generic_visit(self, n):
            super().generic_visit(n)
            return apply(n, desc) if n is node else n

    tree = T().visit(tree)
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def _default_sigint():
    # a background job starts with SIGINT ignored: the tests need Python's own Ctrl-C handler
    import signal
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_tests(work, tests, timeout, extra_env=None, cov=False):
    env = dict(os.environ, PYTHONPATH=work, GPUBP_SKIP_IMAGE_BUILD="1",
               PYTHONDONTWRITEBYTECODE="1")
    if extra_env:
        env.update(extra_env)
    cmd = [PY, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"] + tests
    if cov:
        env["PYTHONPATH"] = work + os.pathsep + COVPATH
        cmd = [PY, "-m", "coverage", "run", "--data-file", os.path.join(work, ".cov"),
               "-m", "pytest", "-q", "-p", "no:cacheprovider"] + tests
    t0 = time.time()
    try:
        r = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True,
                           timeout=timeout, preexec_fn=_default_sigint)
        return r.returncode, time.time() - t0, r.stdout[-3000:]
    except subprocess.TimeoutExpired:
        return "timeout", time.time() - t0, ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("repo")
    ap.add_argument("module")
    ap.add_argument("--tests", required=True)
    ap.add_argument("--funcs", default="")
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--force", action="store_true", help="run uncovered mutants too")
    ap.add_argument("--work", default="", help="work copy (default /tmp/mut/work_<module>)")
    a = ap.parse_args()
    funcs = set(filter(None, a.funcs.split(",")))
    import shlex
    tests = shlex.split(a.tests)
    source = open(os.path.join(a.repo, a.module)).read()
    pts = points(ast.parse(source), funcs)
    if a.list:
        for i, (node, line, desc) in enumerate(pts):
            print(i, line, desc[-1], ast.unparse(node)[:80].replace("\n", " "))
        return
    name = a.module[:-3] if a.module.endswith(".py") else a.module
    name = name[len("gpubp/"):] if name.startswith("gpubp/") else name
    work = a.work or "/tmp/mut/work_" + name.replace("/", "_")
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(a.repo, work, ignore=shutil.ignore_patterns(".git", "__pycache__", ".venv",
                                                               "docs", "benchmarks", "docker"))
    target = os.path.join(work, a.module)
    # baseline on the original under coverage (line numbers), then on the unparsed original
    rc, dt, out = run_tests(work, tests, 900, cov=True)
    if rc != 0:
        print("baseline fails:\n", out)
        sys.exit(1)
    open(target, "w").write(ast.unparse(ast.parse(source)))
    rc, dt, out = run_tests(work, tests, 900)
    if rc != 0:
        print("unparsed baseline fails:\n", out)
        sys.exit(1)
    open(target, "w").write(source)
    env = dict(os.environ, PYTHONPATH=COVPATH)
    subprocess.run([PY, "-m", "coverage", "json", "--data-file", os.path.join(work, ".cov"),
                    "-o", os.path.join(work, "cov.json"), "--include", "*/" + a.module],
                   cwd=work, env=env, capture_output=True)
    cov = json.load(open(os.path.join(work, "cov.json")))["files"]
    executed = set()
    for f, d in cov.items():
        if f.endswith(a.module):
            executed = set(d["executed_lines"])
    timeout = max(30, 4 * dt)
    print(f"baseline {dt:.1f}s, {len(pts)} mutants, timeout {timeout:.0f}s", flush=True)
    only = set(int(i) for i in a.only.split(",") if i)
    results = []
    for i, (node, line, desc) in enumerate(pts):
        if only and i not in only:
            continue
        text = ast.unparse(node)[:100].replace("\n", " ")
        if line not in executed and not a.force:
            status, dt = "uncovered", 0.0
        else:
            open(target, "w").write(mutant_source(source, funcs, i))
            rc, dt, out = run_tests(work, tests, timeout)
            status = ("timeout" if rc == "timeout" else "survived" if rc == 0
                      else "killed")
        results.append(dict(i=i, line=line, op=desc[-1], node=text, status=status))
        print(f"{i:4d} L{line:<4d} {status:9s} {dt:5.1f}s {desc[-1]:24s} {text[:70]}",
              flush=True)
    open(target, "w").write(source)
    json.dump(results, open(a.out, "w"), indent=1)
    n = len(results)
    k = sum(r["status"] in ("killed", "timeout") for r in results)
    print(f"TOTAL {n} killed {k} survived {n - k} "
          f"(uncovered {sum(r['status'] == 'uncovered' for r in results)})")


if __name__ == "__main__":
    main()
