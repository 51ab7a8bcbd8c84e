#!/usr/bin/env python3
"""Runs Manako and ONNX Runtime on the same models and inputs, interleaved in one process, and
prints a Markdown table of median latencies and their ratio (Manako / ONNX Runtime), the
ratio of the fastest runs (less at the mercy of a noisy host), the interquartile range of
the ratios of adjacent blocks (how far the host moved during the run), and the arithmetic
rate each engine's median reaches (GFLOP/s: twice the multiply-adds of the model's
convolutions and matrix products, counted as direct products whatever algorithm runs them).

Usage: python3 benchmarks/compare_ort.py MODEL.onnx [MODEL.onnx ...] [--threads 1 2] [--batch 1 8] [--runs 20]
Needs numpy, onnx, onnxruntime and the manako package (pip install ./bindings/python, or set
MANAKO_LIBRARY and PYTHONPATH=bindings/python).
"""
import argparse
import functools
import os
import pathlib
import statistics
import time

# numpy's own OpenBLAS threads would otherwise compete with both engines for the same cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402

import manako
from model_work import multiply_adds

# Once per model and batch: the count loads the whole model (VGG-19's 575 MB) and infers its shapes.
work_of = functools.lru_cache(maxsize=None)(multiply_adds)


def input_for(model: manako.Model, batch: int) -> dict:
    rng = np.random.default_rng(0)
    feeds = {}
    for info in model.inputs:
        shape = [batch if axis == 0 else (d if d is not None else 1) for axis, d in enumerate(info.shape)]
        feeds[info.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch", type=int, nargs="+", default=[1])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    print("| model | threads | batch | Manako median (ms) | ONNX Runtime median (ms) | ratio | ratio of minimums | block ratios, p25-p75 "
          "| GFLOP/s, Manako / ONNX Runtime |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in args.models:
        for threads in args.threads:
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
            with manako.Model(path, threads=threads) as model:
                for batch in args.batch:
                    fixed = model.inputs[0].shape[0] if model.inputs and model.inputs[0].shape else None
                    if fixed is not None and fixed != batch:
                        print(f"| {pathlib.Path(path).stem} | {threads} | {batch} | - | - | the model's batch is fixed at {fixed} | - | - | - |")
                        continue
                    feeds = input_for(model, batch)
                    ours, theirs = [], []
                    for _ in range(3):
                        model.run(feeds)
                        session.run(None, feeds)
                    # Interleaved in blocks of five runs, so both see the same machine state; a
                    # pause before each block lets the other engine's threads go idle. ONNX
                    # Runtime's workers spin for more than 50 ms after a run: after a 50 ms pause,
                    # Manako's first two-thread run took 1.8 ms longer behind ORT's two-thread
                    # runs than behind its one-thread runs (SqueezeNet); after 250 ms, no longer.
                    def timed(run):
                        time.sleep(0.25)
                        times = []
                        for _ in range(min(5, args.runs - len(ours))):
                            t = time.perf_counter()
                            run()
                            times.append(time.perf_counter() - t)
                        return times
                    # Each pair of adjacent blocks gives a ratio of its own: their spread shows how
                    # much the host moved during the run (a noisy VM's phases last seconds).
                    block_ratios = []
                    while len(ours) < args.runs:
                        block = timed(lambda: model.run(feeds))
                        other = timed(lambda: session.run(None, feeds))[:len(block)]
                        block_ratios.append(statistics.median(block) / statistics.median(other))
                        theirs += other
                        ours += block
                    m, o = statistics.median(ours) * 1000, statistics.median(theirs) * 1000
                    low, high = (statistics.quantiles(block_ratios, n=4)[0::2] if len(block_ratios) > 1
                                 else (block_ratios[0], block_ratios[0]))
                    work = work_of(path, batch)
                    rates = "-" if work is None else f"{2 * work / m / 1e6:.0f} / {2 * work / o / 1e6:.0f}"
                    print(f"| {pathlib.Path(path).stem} | {threads} | {batch} | {m:.1f} | {o:.1f} | {m / o:.2f} | {min(ours) / min(theirs):.2f} "
                          f"| {low:.2f}-{high:.2f} | {rates} |", flush=True)


if __name__ == "__main__":
    main()
