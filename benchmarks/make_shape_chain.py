#!/usr/bin/env python3
"""A chain of blocks that each compute a reshape target and a scale from the running value's
shape (Shape, two Gathers, two Unsqueezes, Cast, Sqrt, Concat: eight shape-only nodes, as an
exporter writes for `x.reshape(B, C, -1) / sqrt(C)`), then Reshape and Div the value: what
running shape-only nodes costs per run, with almost no arithmetic beside it.

Usage: python3 benchmarks/make_shape_chain.py OUT.onnx [BLOCKS]   (default 40: 320 shape-only nodes)
Then `benchmarks/ab.py OLD.so NEW.so OUT.onnx --runs 2000`, or `manako bench --model OUT.onnx --profile`.
Needs numpy and onnx.
"""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    blocks = int(sys.argv[2]) if len(sys.argv) == 3 else 40
    constants = [numpy_helper.from_array(np.array(0, np.int64), "first"),
                 numpy_helper.from_array(np.array(1, np.int64), "second"),
                 numpy_helper.from_array(np.array([0], np.int64), "axis0"),
                 numpy_helper.from_array(np.array([-1], np.int64), "rest")]
    nodes, value = [], "x"
    for b in range(blocks):
        p = f"b{b}_"
        nodes += [
            helper.make_node("Shape", [value], [p + "shape"]),
            helper.make_node("Gather", [p + "shape", "first"], [p + "n"], axis=0),
            helper.make_node("Gather", [p + "shape", "second"], [p + "c"], axis=0),
            helper.make_node("Unsqueeze", [p + "n", "axis0"], [p + "n1"]),
            helper.make_node("Unsqueeze", [p + "c", "axis0"], [p + "c1"]),
            helper.make_node("Cast", [p + "c"], [p + "cf"], to=TensorProto.FLOAT),
            helper.make_node("Sqrt", [p + "cf"], [p + "root"]),
            helper.make_node("Concat", [p + "n1", p + "c1", "rest"], [p + "target"], axis=0),
            helper.make_node("Reshape", [value, p + "target"], [p + "reshaped"]),
            helper.make_node("Div", [p + "reshaped", p + "root"], [p + "out"]),
        ]
        value = p + "out"
    nodes.append(helper.make_node("Identity", [value], ["y"]))
    graph = helper.make_graph(nodes, "shape_chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], constants)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), sys.argv[1])


if __name__ == "__main__":
    main()
