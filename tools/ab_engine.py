#!/usr/bin/env python3
"""ab_engine.py — an A/B of two bench_engine binaries on a noisy machine.

Shared VMs move the same command by up to a third within minutes, so one run of each binary
tells little. This alternates them (A B A B ...) for ROUNDS rounds of the same `--profile`
command and reports, for each binary, every round's figures and their median, and the median
of the per-round ratios B / A (each ratio from two runs seconds apart, so a slow minute hits
both). Output: a table on stderr, one JSON object on stdout.

  tools/ab_engine.py [--rounds N] OLD_BIN NEW_BIN -- --model DIR --profile 64:none [...]

Keep copies of the binaries outside build/ (a rebuild replaces them): e.g.
  cp build/bench/bench_engine /tmp/be_old; (change, make BUILD=build/bench all)
  tools/ab_engine.py /tmp/be_old build/bench/bench_engine -- --model build/bench/data/smollm2-135m-f32 \\
      --profile 64:none --profile-steps 40
"""
import json
import re
import statistics
import subprocess
import sys

PROFILE = re.compile(r"^profile: batch (\d+), (\S+): ([0-9.]+) tok/s \(mean ([0-9.]+)\), fastest step ([0-9.]+) ms")


def usage():
    sys.stderr.write(__doc__.split("\n\n")[2] + "\n")
    sys.exit(2)


def run(binary, args):
    p = subprocess.run([binary] + args, capture_output=True, text=True)
    for line in p.stderr.splitlines():
        m = PROFILE.match(line)
        if m:
            return {"best_tok_s": float(m.group(3)), "mean_tok_s": float(m.group(4)), "fastest_step_ms": float(m.group(5))}
    sys.stderr.write(f"ab_engine: {binary} printed no profile line (exit {p.returncode}):\n{p.stderr[-2000:]}\n")
    sys.exit(1)


def main():
    argv = sys.argv[1:]
    rounds = 3
    if argv[:1] == ["--rounds"] and len(argv) > 1:
        rounds = int(argv[1])
        argv = argv[2:]
    if "--" not in argv or argv.index("--") != 2 or rounds < 1:
        usage()
    a_bin, b_bin, args = argv[0], argv[1], argv[3:]
    if "--profile" not in args:
        sys.stderr.write("ab_engine: the bench_engine arguments need --profile BATCH:KIND\n")
        sys.exit(2)
    runs = {"a": [], "b": []}
    for r in range(rounds):
        for key, binary in (("a", a_bin), ("b", b_bin)):
            res = run(binary, args)
            runs[key].append(res)
            sys.stderr.write(f"  round {r + 1} {key.upper()}: {res['mean_tok_s']:8.1f} tok/s mean, "
                             f"{res['best_tok_s']:8.1f} best ({res['fastest_step_ms']:.1f} ms)\n")
    out = {"a": a_bin, "b": b_bin, "args": args, "rounds": rounds}
    for metric in ("mean_tok_s", "best_tok_s"):
        a = [x[metric] for x in runs["a"]]
        b = [x[metric] for x in runs["b"]]
        ratios = [bb / aa for aa, bb in zip(a, b)]
        out[metric] = {"a": a, "b": b, "a_median": statistics.median(a), "b_median": statistics.median(b),
                       "ratio_b_over_a_median": statistics.median(ratios),
                       "rounds_b_faster": sum(1 for x in ratios if x > 1)}
        sys.stderr.write(f"  {metric}: A median {statistics.median(a):.1f}, B median {statistics.median(b):.1f}, "
                         f"B/A per round median {statistics.median(ratios):.3f} "
                         f"(B faster in {out[metric]['rounds_b_faster']} of {rounds})\n")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
