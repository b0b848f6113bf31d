"""Times ssot-check against its floors and a peer on the vendored corpus; prints medians, peak memory
(maximum resident set size of the process, from wait4) and the ratios the targets are stated in."""

import os
import shutil
import sys
import tempfile

import timing
from timing import run

corpus = sys.argv[1]
repetitions = int(sys.argv[2])
ssot = "target/release/ssot-check"
rules = "bench/rules.toml"


def measure(name, command, before=None):
    return timing.measure(name, command, repetitions, before=before)


rust_files = [os.path.join(d, f) for d, _, fs in os.walk(corpus) for f in fs if f.endswith(".rs")]
lines = 0
size = 0
for path in rust_files:
    with open(path, "rb") as handle:
        data = handle.read()
        lines += data.count(b"\n")
        size += len(data)
print(f"corpus: {len(rust_files)} .rs files, {lines:,} lines, {size / 1e6:.1f} MB; {repetitions} repetitions, median; {os.cpu_count()} cores")

cache = tempfile.mkdtemp(prefix="ssot-bench-cache-")
check = [ssot, corpus, "--rules", rules, "--format", "json", "--output", os.devnull, "--cache-dir", cache]


def empty_cache():
    shutil.rmtree(cache, ignore_errors=True)
    os.makedirs(cache)


one_percent = timing.OnePercent(rust_files, "//")


try:
    cold = measure("ssot-check cold (empty cache)", check, before=empty_cache)
    run(check)
    warm = measure("ssot-check warm (tree unchanged)", check)
    touched_run = measure("ssot-check after touching 1%", check, before=one_percent.touch)
finally:
    one_percent.restore()
floor = measure("tokenize-only pass (proc-macro2)", ["target/release/examples/tokenize_floor", corpus])
ripgrep = measure("ripgrep (I/O floor)", ["rg", "--no-ignore", "-c", "-t", "rust", "Mutex", corpus])
astgrep = measure("ast-grep, one rule", ["ast-grep", "run", "--lang", "rust", "--pattern", "static $N: $T = $E;", corpus])

doubled = tempfile.mkdtemp(prefix="ssot-bench-doubled-")
shutil.copytree(corpus, os.path.join(doubled, "a"))
shutil.copytree(corpus, os.path.join(doubled, "b"))
# The copy is written back to disk before timing starts: writeback must not be timed as analysis.
os.sync()
double = measure("ssot-check cold, corpus doubled", [ssot, doubled, "--rules", rules, "--format", "json", "--output", os.devnull, "--no-cache"])
single = measure("ssot-check cold, no cache", [ssot, corpus, "--rules", rules, "--format", "json", "--output", os.devnull, "--no-cache"])
shutil.rmtree(doubled, ignore_errors=True)
shutil.rmtree(cache, ignore_errors=True)

print()
targets = [
    ("cold / tokenize-only", cold[0] / floor[0], "<= 2.0", cold[0] / floor[0] <= 2.0),
    ("ast-grep / cold", astgrep[0] / cold[0], ">= 4.0", astgrep[0] / cold[0] >= 4.0),
    ("warm / ripgrep", warm[0] / ripgrep[0], "<= 3.0", warm[0] / ripgrep[0] <= 3.0),
    ("1% touched / warm", touched_run[0] / warm[0], "<= 1.5", touched_run[0] / warm[0] <= 1.5),
    ("peak memory cold / ast-grep", cold[1] / astgrep[1], "<= 1.0", cold[1] <= astgrep[1]),
    ("doubled corpus / single", double[0] / single[0], "<= 2.0", double[0] / single[0] <= 2.0),
]
for name, ratio, target, met in targets:
    print(f"{name:<30} {ratio:7.2f}x  target {target:<7} {'met' if met else 'MISSED'}")
