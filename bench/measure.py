"""Times ssot-check against its floors and a peer on the vendored corpus; prints medians, peak memory
(maximum resident set size of the process, from wait4) and the ratios the targets are stated in."""

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

corpus = sys.argv[1]
repetitions = int(sys.argv[2])
ssot = "target/release/ssot-check"
rules = "bench/rules.toml"


def run(command):
    """Runs a command to completion; returns (seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{command} failed with exit code {code}")
    return elapsed, usage.ru_maxrss / 1024


def measure(name, command, before=None):
    times, memory = [], []
    for _ in range(repetitions):
        if before:
            before()
        seconds, peak = run(command)
        times.append(seconds)
        memory.append(peak)
    result = (statistics.median(times), max(memory))
    print(f"{name:<34} {result[0]:8.3f} s   {result[1]:8.1f} MiB")
    return result


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


touched = sorted(random.Random(7).sample(rust_files, max(1, len(rust_files) // 100)))
originals = {}
generation = [0]


def touch_one_percent():
    """Appends a fresh comment to 1% of the files, so their content (and cache key) changes."""
    generation[0] += 1
    for path in touched:
        with open(path, "rb") as handle:
            originals.setdefault(path, handle.read())
        with open(path, "wb") as handle:
            handle.write(originals[path] + f"\n// touched {generation[0]}\n".encode())


try:
    cold = measure("ssot-check cold (empty cache)", check, before=empty_cache)
    run(check)
    warm = measure("ssot-check warm (tree unchanged)", check)
    touched_run = measure("ssot-check after touching 1%", check, before=touch_one_percent)
finally:
    for path, data in originals.items():
        with open(path, "wb") as handle:
            handle.write(data)
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
