#!/usr/bin/env python3
"""Times single-operator models (one 1x64x56x56 tensor, or 1x197x768 for the transformer
cases) in Manako and ONNX Runtime, one thread, and prints a Markdown table of median
latencies. With --baseline BINARY, an older `manako` binary is timed too (an A/B of a change).

Usage: python3 benchmarks/operators.py [--manako .build/static/release/manako] [--baseline OLD] [--runs 100]
Needs numpy, onnx and onnxruntime. Each engine's figure includes its own per-call overhead
(ONNX Runtime's through Python, Manako's through `manako bench`), so sub-0.1 ms rows only say
"fast"; the rows that matter are those an order of magnitude apart.
"""
import argparse
import json
import pathlib
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper as h, numpy_helper as nh

X = [("x", [1, 64, 56, 56])]
TOKENS = [("x", [1, 197, 768])]


def i64(name, values):
    return nh.from_array(np.array(values, np.int64), name)


def f32(name, values):
    return nh.from_array(np.array(values, np.float32), name)


def cases():
    """(name, nodes, inputs, outputs, initializers)"""
    one = lambda op, **attrs: [h.make_node(op, ["x"], ["y"], **attrs)]
    return [
        ("Relu", one("Relu"), X, ["y"], []),
        ("Clip 0..6", [h.make_node("Clip", ["x", "lo", "hi"], ["y"])], X, ["y"], [f32("lo", 0.0), f32("hi", 6.0)]),
        ("Sqrt", one("Sqrt"), X, ["y"], []),
        ("Tanh", one("Tanh"), X, ["y"], []),
        ("Sigmoid", one("Sigmoid"), X, ["y"], []),
        ("Exp", one("Exp"), X, ["y"], []),
        ("Erf", one("Erf"), X, ["y"], []),
        ("Pow x^2", [h.make_node("Pow", ["x", "two"], ["y"])], X, ["y"], [f32("two", 2.0)]),
        ("Add, same shapes", [h.make_node("Add", ["x", "x"], ["y"])], X, ["y"], []),
        ("Mul by channel", [h.make_node("Mul", ["x", "s"], ["y"])], X, ["y"], [f32("s", np.ones((1, 64, 1, 1)))]),
        ("Max of two", [h.make_node("Max", ["x", "x"], ["y"])], X, ["y"], []),
        ("GELU written out (Div, Erf, Add, Mul, Mul)",
         [h.make_node("Div", ["x", "r"], ["d"]), h.make_node("Erf", ["d"], ["e"]), h.make_node("Add", ["e", "one"], ["a"]),
          h.make_node("Mul", ["x", "a"], ["m"]), h.make_node("Mul", ["m", "half"], ["y"])], X, ["y"],
         [f32("r", 1.4142135), f32("one", 1.0), f32("half", 0.5)]),
        ("Where(x > 0, x, 0)", [h.make_node("Greater", ["x", "z"], ["c"]), h.make_node("Where", ["c", "x", "z"], ["y"])], X, ["y"],
         [f32("z", 0.0)]),
        ("ReduceMean over H, W", one("ReduceMean", axes=[2, 3], keepdims=1), X, ["y"], []),
        ("ReduceMean over C", one("ReduceMean", axes=[1], keepdims=1), X, ["y"], []),
        ("ReduceMean over the last axis", one("ReduceMean", axes=[-1], keepdims=1), TOKENS, ["y"], []),
        ("ReduceSum over H, W", [h.make_node("ReduceSum", ["x", "a"], ["y"], keepdims=1)], X, ["y"], [i64("a", [2, 3])]),
        ("ReduceMax over the last axis", one("ReduceMax", axes=[-1], keepdims=1), TOKENS, ["y"], []),
        ("Softmax over the last axis", one("Softmax", axis=-1), [("x", [1, 3, 197, 197])], ["y"], []),
        ("LayerNormalization", [h.make_node("LayerNormalization", ["x", "g", "b"], ["y"], axis=-1)], TOKENS, ["y"],
         [f32("g", np.ones(768)), f32("b", np.zeros(768))]),
        ("Transpose NCHW to NHWC", one("Transpose", perm=[0, 2, 3, 1]), X, ["y"], []),
        ("Transpose NHWC to NCHW", one("Transpose", perm=[0, 3, 1, 2]), [("x", [1, 56, 56, 64])], ["y"], []),
        ("Slice H, W [1:55]", [h.make_node("Slice", ["x", "s", "e", "a"], ["y"])], X, ["y"],
         [i64("s", [1, 1]), i64("e", [55, 55]), i64("a", [2, 3])]),
        ("Split C in two", [h.make_node("Split", ["x", "s"], ["y1", "y2"], axis=1)], X, ["y1", "y2"], [i64("s", [32, 32])]),
        ("Concat on C", [h.make_node("Concat", ["x", "x"], ["y"], axis=1)], X, ["y"], []),
        ("Gather 64 channels", [h.make_node("Gather", ["x", "i"], ["y"], axis=1)], X, ["y"], [i64("i", list(range(63, -1, -1)))]),
        ("Expand 1x64x1x1 to 1x64x56x56", [h.make_node("Expand", ["x", "s"], ["y"])], [("x", [1, 64, 1, 1])], ["y"],
         [i64("s", [1, 64, 56, 56])]),
        ("Pad H, W by 1", [h.make_node("Pad", ["x", "p"], ["y"])], X, ["y"], [i64("p", [0, 0, 1, 1, 0, 0, 1, 1])]),
        ("MaxPool 3x3/2 pad 1", one("MaxPool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]), X, ["y"], []),
        ("AveragePool 3x3/1 pad 1", one("AveragePool", kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1]), X, ["y"], []),
        ("AveragePool 2x2/2", one("AveragePool", kernel_shape=[2, 2], strides=[2, 2]), X, ["y"], []),
        ("GlobalAveragePool", one("GlobalAveragePool"), X, ["y"], []),
        ("Resize nearest x2", [h.make_node("Resize", ["x", "", "sc"], ["y"], mode="nearest")], X, ["y"], [f32("sc", [1, 1, 2, 2])]),
        ("Resize linear x2", [h.make_node("Resize", ["x", "", "sc"], ["y"], mode="linear")], X, ["y"], [f32("sc", [1, 1, 2, 2])]),
    ]


def save(folder, index, nodes, inputs, outputs, inits):
    graph = h.make_graph(nodes, f"op{index}", [h.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
                         [h.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / f"op{index}.onnx"
    onnx.save(model, str(path))
    return path


def manako_median(binary, path, runs):
    out = subprocess.run([binary, "bench", "--model", str(path), "--threads", "1", "--runs", str(runs), "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        return None
    return json.loads(out.stdout)["median_ms"]


def ort_median(path, runs):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feeds = {i.name: np.random.default_rng(0).standard_normal(i.shape).astype(np.float32) for i in session.get_inputs()}
    for _ in range(5):
        session.run(None, feeds)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--manako", default=".build/static/release/manako")
    parser.add_argument("--baseline")
    parser.add_argument("--runs", type=int, default=100)
    args = parser.parse_args()
    show = lambda v: "unsupported" if v is None else f"{v:.3f}"
    header = "| operator | " + ("baseline (ms) | " if args.baseline else "") + "Manako (ms) | ONNX Runtime (ms) |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    with tempfile.TemporaryDirectory() as scratch:
        for index, (name, nodes, inputs, outputs, inits) in enumerate(cases()):
            path = save(pathlib.Path(scratch), index, nodes, inputs, outputs, inits)
            base = f"{show(manako_median(args.baseline, path, args.runs))} | " if args.baseline else ""
            print(f"| {name} | {base}{show(manako_median(args.manako, path, args.runs))} | {ort_median(path, args.runs):.3f} |",
                  flush=True)


if __name__ == "__main__":
    main()
