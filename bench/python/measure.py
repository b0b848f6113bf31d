"""Times ssot-check's Python frontend against ruff (one rule, TID251) and import-linter (one `forbidden`
contract) on the same packages, with the same check: no module imports `pickle`. Prints medians, peak
memory (maximum resident set size, from wait4), the findings each tool reports, and the ratios the
targets are stated in."""

import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import timing  # noqa: E402 (bench/timing.py, shared with bench/measure.py)

corpus, venv, repetitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
here = os.path.dirname(os.path.abspath(__file__))
ssot = os.path.abspath("target/release/ssot-check")
venv = os.path.abspath(venv)
ruff = os.path.join(venv, "bin", "ruff")
lint_imports = os.path.join(venv, "bin", "lint-imports")


def only(pattern):
    found = [d for d in os.listdir(corpus) if d.lower().startswith(pattern) and not d.endswith(".tar.gz")]
    return os.path.abspath(os.path.join(corpus, sorted(found)[-1]))


django, sqlalchemy, sympy = only("django-"), only("sqlalchemy-"), only("sympy-")
packages = [os.path.join(django, "django"), os.path.join(sqlalchemy, "lib", "sqlalchemy"), os.path.join(sympy, "sympy")]
python_path = os.pathsep.join([django, os.path.join(sqlalchemy, "lib"), sympy])


def run(command, env=None, capture=False):
    return timing.run(command, env=env, capture=capture, cwd=tempfile.gettempdir())


def measure(name, command, before=None, env=None):
    return timing.measure(name, command, repetitions, before=before, env=env, cwd=tempfile.gettempdir())


files = [os.path.join(d, f) for p in packages for d, _, fs in os.walk(p) for f in fs if f.endswith(".py")]
lines = sum(open(f, "rb").read().count(b"\n") for f in files)
print(f"corpus: {len(files)} .py files, {lines:,} lines (django, sqlalchemy, sympy); {repetitions} repetitions, median; {os.cpu_count()} cores")

cache = tempfile.mkdtemp(prefix="ssot-bench-py-cache-")
ruff_cache = tempfile.mkdtemp(prefix="ssot-bench-ruff-cache-")
linter_cache = tempfile.mkdtemp(prefix="ssot-bench-linter-cache-")
uncached = [ssot, *packages, "--rules", os.path.join(here, "rules.toml"), "--format", "json"]
check = uncached + ["--cache-dir", cache]
ruff_check = [ruff, "check", "--config", os.path.join(here, "ruff.toml"), "--output-format", "concise", *packages]
linter = [lint_imports, os.path.join(here, "importlinter.ini")]
linter_env = dict(os.environ, PYTHONPATH=python_path)


def empty(folder):
    def emptying():
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
    return emptying


# The same findings, or the comparison means nothing.
_, _, ours = run(uncached + ["--no-cache"], capture=True)
_, _, theirs = run(ruff_check + ["--no-cache"], capture=True)
ours_count = ours.count('"rule": "no-pickle"')
ruff_count = sum(1 for line in theirs.splitlines() if "TID251" in line)
print(f"findings: ssot-check {ours_count}, ruff {ruff_count}")

one_percent = timing.OnePercent(files, "#")


try:
    cold = measure("ssot-check cold (empty cache)", check, before=empty(cache))
    run(check)
    warm = measure("ssot-check warm (tree unchanged)", check)
    touched_run = measure("ssot-check after touching 1%", check, before=one_percent.touch)
finally:
    one_percent.restore()
ruff_cold = measure("ruff TID251 cold (--no-cache)", ruff_check + ["--no-cache"])
run(ruff_check + ["--cache-dir", ruff_cache])
ruff_warm = measure("ruff TID251 warm (its cache)", ruff_check + ["--cache-dir", ruff_cache])
linter_cold = measure("import-linter cold (--no-cache)", linter + ["--no-cache"], env=linter_env)
run(linter + ["--cache-dir", linter_cache], env=linter_env)
linter_warm = measure("import-linter warm (its cache)", linter + ["--cache-dir", linter_cache], env=linter_env)
ripgrep = measure("ripgrep (I/O floor)", ["rg", "--no-ignore", "-c", "-t", "py", "pickle", *packages])
for folder in (cache, ruff_cache, linter_cache):
    shutil.rmtree(folder, ignore_errors=True)

print()
targets = [
    ("cold / ruff cold", cold[0] / ruff_cold[0], "<= 1.5", cold[0] / ruff_cold[0] <= 1.5),
    ("cold / import-linter cold", cold[0] / linter_cold[0], "< 1.0", cold[0] < linter_cold[0]),
    ("warm / ripgrep", warm[0] / ripgrep[0], "<= 3.0", warm[0] / ripgrep[0] <= 3.0),
    ("warm / ruff warm", warm[0] / ruff_warm[0], "(info)", True),
    ("1% touched / ruff warm", touched_run[0] / ruff_warm[0], "(info)", True),
    ("peak memory cold / import-linter", cold[1] / linter_cold[1], "< 1.0", cold[1] < linter_cold[1]),
]
for name, ratio, target, met in targets:
    print(f"{name:<34} {ratio:7.2f}x  target {target:<7} {'met' if met else 'MISSED'}")
