#!/usr/bin/env python3
"""A/B of two builds of libmanako in one process: both libraries are loaded side by side (each
through its own copy of the Python package), one model is loaded in each, and their runs
alternate, so host noise (neighbours, clock changes) falls on both alike. Prints the largest
output difference and each build's minimum and median, and B/A ratios of the median, the 25th
percentile and the minimum. On a noisy host this resolves changes of a few per cent that
separate `manako bench` runs cannot.

Usage: python3 benchmarks/ab.py LIB_A.so LIB_B.so MODEL.onnx [--threads 1] [--runs 200] [--block 1] [--pause 0]
(keep a copy of the old build's .build/static/release/libManakoC.so before rebuilding).
Needs numpy and onnx.
"""
import argparse
import ctypes
import importlib
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np
import onnx

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "bindings" / "python" / "manako"


def load_build(library, tag, scratch):
    """The Python package bound to `library`, imported under its own name."""
    copy = scratch / f"manako_{tag}"
    shutil.copytree(PACKAGE, copy)
    lib_copy = scratch / f"lib_{tag}.so"
    shutil.copy(library, lib_copy)
    module = importlib.import_module(f"manako_{tag}")
    # Bind now: the package otherwise opens its library at first use, from $MANAKO_LIBRARY.
    module._lib = module._library.declare(ctypes.CDLL(str(lib_copy)))
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("library_a")
    parser.add_argument("library_b")
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--block", type=int, default=1,
                        help="runs of one build in a row (1: alternate every run, each starting with the other's "
                             "weights in the cache, as in compare_ort.py; 20: each build warm, as in manako bench)")
    parser.add_argument("--pause", type=float, default=0,
                        help="seconds of idleness before each block (0.25: the state compare_ort.py's pauses leave "
                             "the host in; see benchmarks/after_pause.py)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        scratch = pathlib.Path(folder)
        sys.path.insert(0, str(scratch))
        builds = [load_build(args.library_a, "a", scratch), load_build(args.library_b, "b", scratch)]
        dims = onnx.load(args.model, load_external_data=False).graph.input[0].type.tensor_type.shape.dim
        x = np.random.default_rng(0).standard_normal([d.dim_value or 1 for d in dims]).astype(np.float32)
        models = [build.Model(args.model, threads=args.threads) for build in builds]
        first, second = (m.run(x) for m in models)
        name = next(iter(first))
        diff = float(np.abs(first[name] - second[name]).max())
        times = ([], [])
        for i in range(0, args.runs, args.block):
            for which in ((0, 1) if i // args.block % 2 else (1, 0)):
                if args.pause:
                    time.sleep(args.pause)
                for _ in range(min(args.block, args.runs - i)):
                    start = time.perf_counter()
                    models[which].run(x)
                    times[which].append(time.perf_counter() - start)
        a, b = (np.array(t) * 1e3 for t in times)
        print(f"{pathlib.Path(args.model).name}: max difference {diff:.2g}; "
              f"A min {a.min():.3f} median {np.median(a):.3f} ms | B min {b.min():.3f} median {np.median(b):.3f} ms | "
              f"B/A median {np.median(b) / np.median(a):.3f}, p25 {np.percentile(b, 25) / np.percentile(a, 25):.3f}, "
              f"min {b.min() / a.min():.3f}")


if __name__ == "__main__":
    main()
