#!/usr/bin/env python3
"""Writes a chain of attention products (MatMul(q, kT), Mul by a scale, Softmax, MatMul(., v)),
each output the next one's q: the unfused form of one attention per link, to time against
ONNX Runtime or between two builds of Manako (`manako bench --model OUT --profile`).

Usage: python3 benchmarks/make_attention.py OUT.onnx [--heads 3] [--tokens 197] [--depth 64] [--links 4]
Needs numpy and onnx.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--heads", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=197)
    parser.add_argument("--depth", type=int, default=64)
    parser.add_argument("--links", type=int, default=4)
    args = parser.parse_args()
    h, t, d = args.heads, args.tokens, args.depth
    inputs = [helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
              for name, shape in [("q", [1, h, t, d]), ("kt", [1, h, d, t]), ("v", [1, h, t, d])]]
    nodes, q = [], "q"
    for i in range(args.links):
        nodes += [helper.make_node("MatMul", [q, "kt"], [f"s{i}"]),
                  helper.make_node("Mul", [f"s{i}", "scale"], [f"scaled{i}"]),
                  helper.make_node("Softmax", [f"scaled{i}"], [f"p{i}"], axis=-1),
                  helper.make_node("MatMul", [f"p{i}", "v"], [f"o{i}"])]
        q = f"o{i}"
    scale = numpy_helper.from_array(np.array(d ** -0.5, dtype=np.float32), "scale")
    graph = helper.make_graph(nodes, "attention chain", inputs,
                              [helper.make_tensor_value_info(q, TensorProto.FLOAT, [1, h, t, d])], initializer=[scale])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, args.out)


if __name__ == "__main__":
    main()
