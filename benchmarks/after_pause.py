#!/usr/bin/env python3
"""How each engine's latency recovers after an idle pause: sleeps PAUSE seconds, then times N
consecutive runs of Manako, then the same for ONNX Runtime (alternating which goes first), and
prints the median of each position. `compare_ort.py` pauses 250 ms before every block of runs
(ONNX Runtime's workers spin for more than 50 ms after a run); this shows what that pause costs
each engine on the host at hand.

Usage: MANAKO_LIBRARY=... PYTHONPATH=bindings/python python3 benchmarks/after_pause.py MODEL.onnx
           [--pause 0.25] [--repeats 15] [--runs 8] [--threads 1]
Needs numpy and onnxruntime.
"""
import argparse
import time

import numpy as np
import onnxruntime as ort

import manako


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--pause", type=float, default=0.25)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    model = manako.Model(args.model, threads=args.threads)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    shape = [d if isinstance(d, int) else 1 for d in session.get_inputs()[0].shape]
    x = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    engines = {"manako": lambda: model.run(x), "onnxruntime": lambda: session.run(None, {name: x})}
    for run in engines.values():
        for _ in range(3):
            run()
    times = {engine: [[] for _ in range(args.runs)] for engine in engines}
    for repeat in range(args.repeats):
        order = list(engines) if repeat % 2 == 0 else list(reversed(engines))
        for engine in order:
            time.sleep(args.pause)
            for position in range(args.runs):
                start = time.perf_counter()
                engines[engine]()
                times[engine][position].append(time.perf_counter() - start)
    for engine, positions in times.items():
        medians = [sorted(t)[len(t) // 2] * 1e3 for t in positions]
        print(f"{engine:12s} after {args.pause * 1e3:.0f} ms idle, runs 1..{args.runs} (median ms):",
              " ".join(f"{m:.2f}" for m in medians))


if __name__ == "__main__":
    main()
