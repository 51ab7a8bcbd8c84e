#!/usr/bin/env python3
"""ONNX Runtime's time per node, to set beside `manako bench --profile`: runs a model with
ONNX Runtime's profiler on, then prints the median kernel time of each node over the runs
(slowest first) and the sum per operator type.

Usage: python3 benchmarks/ort_profile.py MODEL.onnx [--threads 1] [--runs 100] [--top 40]
ONNX Runtime names a fused node after its last output (a Conv with its Relu or Clip appears as
".../Relu_output_0_nchwc"). Needs numpy and onnxruntime.
"""
import argparse
import collections
import json
import os
import statistics
import tempfile

import numpy as np
import onnxruntime as ort


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.enable_profiling = True
    options.profile_file_prefix = os.path.join(tempfile.mkdtemp(), "ort")
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    feeds = {}
    for info in session.get_inputs():
        shape = [d if isinstance(d, int) else 1 for d in info.shape]
        feeds[info.name] = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    for _ in range(args.runs):
        session.run(None, feeds)
    path = session.end_profiling()
    with open(path) as f:
        events = json.load(f)
    os.remove(path)
    times = collections.defaultdict(list)
    op_types = {}
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            node = event["name"][: -len("_kernel_time")]
            times[node].append(event["dur"] / 1000)
            op_types[node] = event["args"].get("op_name", "?")
    medians = sorted(((statistics.median(t), node) for node, t in times.items()), reverse=True)
    print(f"sum of node medians: {sum(m for m, _ in medians):.3f} ms ({args.threads} threads, {args.runs} runs)")
    per_type = collections.defaultdict(lambda: [0.0, 0])
    for median, node in medians:
        per_type[op_types[node]][0] += median
        per_type[op_types[node]][1] += 1
    for op, (total, count) in sorted(per_type.items(), key=lambda item: -item[1][0]):
        print(f"  {op:22s} {count:4d} nodes {total:9.3f} ms")
    for median, node in medians[: args.top]:
        print(f"  {median:9.3f} ms  {node} ({op_types[node]})")


if __name__ == "__main__":
    main()
