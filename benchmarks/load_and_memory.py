#!/usr/bin/env python3
"""Load time and peak memory of Manako and ONNX Runtime, each in a fresh Python process.

Usage: python3 benchmarks/load_and_memory.py MODEL.onnx [MODEL.onnx ...] [--threads 1] [--runs 5] [--repeats 3]
Prints a Markdown table: model load (Manako) against session creation (ONNX Runtime), and the
peak resident memory each process reached above what it held after its imports, over one
load and `--runs` batch-1 runs. Each engine loads in `--repeats` fresh processes, the engine
that goes first alternating (on a VM the first touch of memory the host has not backed yet
is slow, and the process after another one reuses what that one freed); the table holds the
median load and the largest peak. Needs what benchmarks/compare_ort.py needs.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import sys

CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import numpy as np
engine, path, threads, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if engine == "manako":
    import manako
else:
    import onnxruntime as ort
def rss_mb():  # current resident set, from /proc
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
base = rss_mb()
t = time.perf_counter()
if engine == "manako":
    model = manako.Model(path, threads=threads)
    shape = [1 if d is None else d for d in model.inputs[0].shape]
    run = lambda x: model.run(x)
else:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    info = session.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in info.shape]
    run = lambda x: session.run(None, {info.name: x})
load = time.perf_counter() - t
x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
for _ in range(runs):
    run(x)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"load_ms": load * 1000, "peak_above_imports_mb": peak - base}))
"""


def measure(engine: str, path: str, threads: int, runs: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, engine, path, str(threads), str(runs)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print("| model | Manako load (ms) | ONNX Runtime session (ms) | Manako peak (MB) | ONNX Runtime peak (MB) |")
    print("|---|---|---|---|---|")
    for path in args.models:
        results = {"manako": [], "ort": []}
        for repeat in range(args.repeats):
            for engine in (("manako", "ort") if repeat % 2 == 0 else ("ort", "manako")):
                results[engine].append(measure(engine, path, args.threads, args.runs))
        load = {e: statistics.median(r["load_ms"] for r in rs) for e, rs in results.items()}
        peak = {e: max(r["peak_above_imports_mb"] for r in rs) for e, rs in results.items()}
        print(f"| {pathlib.Path(path).stem} | {load['manako']:.0f} | {load['ort']:.0f} | "
              f"{peak['manako']:.0f} | {peak['ort']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
