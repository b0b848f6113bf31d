"""What both benchmarks time with: a command run to completion with its wall time and peak memory (maximum
resident set size, from wait4), the median of several runs, and edits that touch 1% of a corpus."""

import os
import random
import statistics
import subprocess
import sys
import time


def run(command, env=None, capture=False, cwd=None):
    """Runs a command to completion; returns (seconds, peak RSS in MiB, stdout if captured)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
    )
    out = process.stdout.read().decode() if capture else ""
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        sys.exit(f"{command} failed with exit code {code}")
    return elapsed, usage.ru_maxrss / 1024, out


def measure(name, command, repetitions, before=None, env=None, cwd=None):
    """The median time and the largest peak memory of `repetitions` runs, printed under `name`."""
    times, memory = [], []
    for _ in range(repetitions):
        if before:
            before()
        seconds, peak, _ = run(command, env=env, cwd=cwd)
        times.append(seconds)
        memory.append(peak)
    result = (statistics.median(times), max(memory))
    print(f"{name:<40} {result[0]:8.3f} s   {result[1]:8.1f} MiB")
    return result


class OnePercent:
    """Appends a fresh comment to 1% of the files (the same ones each time), so their content changes;
    `restore` puts them back."""

    def __init__(self, files, comment):
        self.touched = sorted(random.Random(7).sample(files, max(1, len(files) // 100)))
        self.comment = comment
        self.originals = {}
        self.generation = 0

    def touch(self):
        self.generation += 1
        for path in self.touched:
            with open(path, "rb") as handle:
                self.originals.setdefault(path, handle.read())
            with open(path, "wb") as handle:
                handle.write(self.originals[path] + f"\n{self.comment} touched {self.generation}\n".encode())

    def restore(self):
        for path, data in self.originals.items():
            with open(path, "wb") as handle:
                handle.write(data)
