"""Processes that take turns: side-by-side timings on a machine that slows down in stretches.

The shared machines these benchmarks run on slow down for seconds at a time (memory-bound
work 2-4x, matrix products ~20%). Timing one side for a second and then the other puts
such a stretch on one side only. Here every side is a process of its own that stays up:
it builds its case, warms up, then runs a short *burst* of steps each time it is asked,
and the sides take turns, many times over, with a rest before each burst (the threads of
the side that just ran spin on a while; numpy's own OpenBLAS threads for up to ~0.1 s).
A slow stretch then falls on every side alike, and the ratio of each round's medians
says how the sides compare in that round.

A child is ``python -c SERVE + <its setup code>``; its setup ends by calling
``serve({"case": step_function, ...}, info)``.
"""

import json
import statistics
import subprocess
import sys
import time

SERVE = r"""

def serve(cases, info=None):
    import json, sys, time

    def burst(step, seconds, least=3):  # steps for at least `seconds`: their times, ms
        times, start = [], time.perf_counter()
        while len(times) < least or time.perf_counter() - start < seconds:
            t = time.perf_counter()
            step()
            times.append(1000 * (time.perf_counter() - t))
        return times

    for step in cases.values():
        burst(step, 0.3)  # warm up: caches, thread pools, the allocator
    print(json.dumps({"ready": info}), flush=True)
    for line in sys.stdin:  # "<case> <seconds>": one burst
        case, seconds = line.split()
        print(json.dumps(burst(cases[case], float(seconds))), flush=True)
"""


class Side:
    """One side's process, started with ``code`` and ``args``; ``info`` is what its
    ``serve`` call reported once it was ready."""

    def __init__(self, name, code, args=(), env=None):
        self.name = name
        self.proc = subprocess.Popen(
            [sys.executable, "-c", SERVE + code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,  # read only if it fails: warnings are a few lines
            text=True,
            env=env,
        )
        self.info = self._read()["ready"]

    def _read(self):
        while True:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.kill()
                raise RuntimeError(f"{self.name} failed:\n{self.proc.stderr.read()}")
            try:
                return json.loads(line)
            except ValueError:  # something the libraries printed
                continue

    def burst(self, case, seconds):
        self.proc.stdin.write(f"{case} {seconds}\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()


def take_turns(sides, cases, rounds, seconds=0.1, gap=0.12):
    """Every side runs a burst of every case, ``rounds`` times over.

    Returns ``times[case][side]``, every step's time in ms, and ``medians[case][side]``,
    each round's median (a list, one per round, for ratios round by round). The sides
    are closed at the end.
    """
    times = {case: {s.name: [] for s in sides} for case in cases}
    medians = {case: {s.name: [] for s in sides} for case in cases}
    try:
        for _ in range(rounds):
            for case in cases:
                for side in sides:
                    time.sleep(gap)
                    steps = side.burst(case, seconds)
                    times[case][side.name] += steps
                    medians[case][side.name].append(statistics.median(steps))
    finally:
        for side in sides:
            side.close()
    return times, medians


def ratio_quartiles(medians, side, base):
    """The median and quartiles of ``side``'s round medians over ``base``'s."""
    ratios = [a / b for a, b in zip(medians[side], medians[base])]
    if len(ratios) == 1:
        return ratios * 3
    return statistics.quantiles(ratios, n=4)
