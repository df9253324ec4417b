#!/usr/bin/env python3
"""The throughput benchmarks run several times in turn, their figures merged into ranges: what the README's
benchmark table quotes, measured the way a reader on a shared machine should (figures there swing by 30 %).

    python3 benchmarks/suite.py --runs 3 --out docs/benchmarks_2core.md

Each benchmark runs as its own process, with short settings (a few minutes a round on 2 cores); every round
runs them all once, so slow phases of a shared machine spread over all of them. The outputs of the rounds are
merged line by line: each number becomes ``min-max`` over the rounds (one number where they agree). The report
starts with the date, the commit and the machine (CPU model, cores), and lists each benchmark's command.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from rllib_integration.arguments import positive_int  # noqa: E402

#: name -> the benchmark's arguments (short settings: each takes about a minute on the 2-core machine).
BENCHMARKS = {
    "env_step": ["benchmarks/env_step.py", "--towns", "GridTown", "--steps", "1000"],
    "heroes": ["benchmarks/heroes.py", "--heroes", "8", "32", "--steps", "3000"],
    "sampling": ["benchmarks/sampling.py", "--envs", "1", "4", "16", "--steps", "6000"],
    "birdview": ["benchmarks/birdview.py", "--sizes", "64", "84", "300", "--frames", "300"],
    "traffic": ["benchmarks/traffic.py", "--towns", "GridTown", "--vehicles", "0", "20", "50", "100",
                "--ticks", "500"],
    "cameras": ["benchmarks/cameras.py", "--frames", "50"],
}
NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def merge(outputs: list[str]) -> list[str]:
    """The rounds' outputs of one benchmark as one, line by line: where the lines of every round read the same
    once their numbers are taken out, each number becomes ``low-high`` over the rounds; other lines are the
    first round's."""
    rounds = [output.splitlines() for output in outputs]
    merged = []
    for index, line in enumerate(rounds[0]):
        lines = [lines[index] for lines in rounds if index < len(lines)]
        shapes = {NUMBER.sub("#", text) for text in lines}
        if len(lines) < len(rounds) or len(shapes) != 1:
            merged.append(line)
            continue
        columns = list(zip(*(NUMBER.findall(text) for text in lines)))
        values = iter(columns)

        def span(match: re.Match) -> str:
            texts = next(values)
            numbers = [float(text.replace(",", "")) for text in texts]
            low, high = texts[numbers.index(min(numbers))], texts[numbers.index(max(numbers))]
            return low if low == high else f"{low}-{high}"

        merged.append(NUMBER.sub(span, line))
    return merged


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as stream:
            for line in stream:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", type=positive_int, default=3, help="rounds of every benchmark")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), default=sorted(BENCHMARKS),
                        help="the benchmarks run")
    parser.add_argument("--out", help="also write the report to this Markdown file")
    args = parser.parse_args()
    outputs: dict[str, list[str]] = {name: [] for name in args.only}
    started = time.monotonic()
    for round_index in range(args.runs):
        for name in args.only:
            print(f"round {round_index + 1}/{args.runs}: {name} ({time.monotonic() - started:.0f} s so far)",
                  file=sys.stderr, flush=True)
            result = subprocess.run([sys.executable, *BENCHMARKS[name]], cwd=ROOT, capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"benchmarks/{name}.py failed (exit {result.returncode}):\n{result.stderr[-3000:]}")
            outputs[name].append(result.stdout)
    report = [f"# Benchmarks: ranges over {args.runs} runs", "",
              f"{datetime.date.today().isoformat()}, commit {commit()}, {cpu_model()}, {os.cpu_count()} cores, "
              f"Python {platform.python_version()}; {time.monotonic() - started:.0f} s in all.", ""]
    for name in args.only:
        report += [f"## {name}", "", f"`python3 {' '.join(BENCHMARKS[name])}`", "", "```",
                   *merge(outputs[name]), "```", ""]
    text = "\n".join(report)
    print(text)
    if args.out:
        with open(args.out, "w") as stream:
            stream.write(text)


if __name__ == "__main__":
    main()
