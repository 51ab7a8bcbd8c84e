#!/usr/bin/env python3
"""A chain of 1x1 convolutions (each with bias and ReLU6) on one plane size, ending in a
GlobalAveragePool: single layers measured in place, their input just written by the layer
before, as in a network (and with the layout conversions spread over several layers).

Usage: python3 benchmarks/make_chain.py OUT.onnx SIZE C0,C1,C2,...
  e.g. make_chain.py chain.onnx 112 32,16,32,16,32   (MobileNetV2's 112x112 projections)
Then `manako bench --model OUT.onnx --profile` and `benchmarks/ort_profile.py OUT.onnx`.
Needs numpy and onnx.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    out, size, channels = sys.argv[1], int(sys.argv[2]), [int(c) for c in sys.argv[3].split(",")]
    rng = np.random.default_rng(0)
    nodes, weights, previous = [], [], "input"
    for i, (c, m) in enumerate(zip(channels, channels[1:])):
        weights.append(numpy_helper.from_array((rng.standard_normal((m, c, 1, 1)) / np.sqrt(c)).astype(np.float32), f"w{i}"))
        weights.append(numpy_helper.from_array((rng.standard_normal(m) * 0.1).astype(np.float32), f"b{i}"))
        nodes.append(helper.make_node("Conv", [previous, f"w{i}", f"b{i}"], [f"conv{i}"], name=f"conv{i}_{c}to{m}"))
        nodes.append(helper.make_node("Clip", [f"conv{i}", "low", "high"], [f"clip{i}"], name=f"clip{i}"))
        previous = f"clip{i}"
    weights += [numpy_helper.from_array(np.array(0, np.float32), "low"), numpy_helper.from_array(np.array(6, np.float32), "high")]
    nodes.append(helper.make_node("GlobalAveragePool", [previous], ["output"], name="pool"))
    graph = helper.make_graph(nodes, "chain", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, channels[0], size, size])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, channels[-1], 1, 1])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, out)


if __name__ == "__main__":
    main()
