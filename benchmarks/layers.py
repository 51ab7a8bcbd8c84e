#!/usr/bin/env python3
"""Single convolution layers, Manako against ONNX Runtime, interleaved in one process.

Each layer is one Conv (random weights, "same" padding) and a Relu, then a GlobalAveragePool so
the graph output stays small (a large output costs page faults that a classifier's logits do
not). Both engines run alternately in blocks of three, so the host's noise falls on both
alike. Prints each engine's median, the ratio of medians and of minimums, and the largest
difference of the pooled outputs.

Usage: python3 benchmarks/layers.py "C,HW,M,K,S" ["C,HW,M,K,S" ...] [--threads 1] [--runs 60]
  e.g. benchmarks/layers.py 64,56,256,1,1 128,56,128,3,2   (ResNet-50's 1x1 and strided 3x3)
Needs numpy, onnx and onnxruntime; MANAKO_LIBRARY and PYTHONPATH as for compare_ort.py.
"""
import argparse
import pathlib
import statistics
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

import manako


def layer_model(channels, size, filters, kernel, stride):
    """Conv(kernel, stride, pad kernel // 2) + Relu + GlobalAveragePool on [1, C, size, size]."""
    pad = kernel // 2
    rng = np.random.default_rng(1)
    weights = numpy_helper.from_array((rng.standard_normal((filters, channels, kernel, kernel)) * 0.05).astype(np.float32), "W")
    bias = numpy_helper.from_array((rng.standard_normal(filters) * 0.1).astype(np.float32), "B")
    nodes = [
        helper.make_node("Conv", ["x", "W", "B"], ["c"], kernel_shape=[kernel, kernel], strides=[stride, stride], pads=[pad] * 4),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("GlobalAveragePool", ["r"], ["y"]),
    ]
    graph = helper.make_graph(nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, size, size])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, filters, 1, 1])], [weights, bias])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def compare(spec, threads, runs, folder):
    path = folder / "layer.onnx"
    onnx.save(layer_model(*spec), path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(2).standard_normal((1, spec[0], spec[1], spec[1])).astype(np.float32)
    ours, theirs = [], []
    with manako.Model(path, threads=threads) as model:
        difference = float(np.max(np.abs(model.run(x)["y"] - session.run(None, {"x": x})[0])))
        for _ in range(5):
            model.run(x)
            session.run(None, {"x": x})
        for _ in range(runs):
            for run, times in ((lambda: model.run(x), ours), (lambda: session.run(None, {"x": x}), theirs)):
                for _ in range(3):
                    start = time.perf_counter()
                    run()
                    times.append(time.perf_counter() - start)
                time.sleep(0.002)
    mine, other = statistics.median(ours) * 1e3, statistics.median(theirs) * 1e3
    print(f"| {spec} | {mine:.3f} | {other:.3f} | {mine / other:.2f} | {min(ours) / min(theirs):.2f} | {difference:.1e} |", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("layers", nargs="+", help="C,HW,M,K,S: channels, input size, filters, kernel, stride")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    print("| layer (C, HW, M, K, S) | Manako median (ms) | ONNX Runtime median (ms) | ratio | ratio of minimums | max difference |")
    print("|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for text in args.layers:
            compare(tuple(int(v) for v in text.split(",")), args.threads, args.runs, pathlib.Path(folder))


if __name__ == "__main__":
    main()
