#!/usr/bin/env python3
"""Rewrites two benchmark models the way other exporters write them, to time the operators
those exports keep: DeiT-Tiny with every LayerNormalization written out as torch exports it
below opset 17 (ReduceMean, Sub, Pow, ReduceMean, Add, Sqrt, Div, Mul, Add), and
EfficientNet-B0 with its global average pools written as ReduceMean over H and W (as tf2onnx
writes Keras's squeeze-and-excitation). Same weights, same outputs.

Usage: python3 benchmarks/make_variants.py DEIT.onnx EFFICIENTNET_B0.onnx OUT_FOLDER
"""
import pathlib
import sys

import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh


def written_out_layer_norms(model):
    graph, nodes = model.graph, []
    graph.initializer.append(nh.from_array(np.array(2.0, np.float32), "ln_two"))
    for k, node in enumerate(graph.node):
        if node.op_type != "LayerNormalization":
            nodes.append(node)
            continue
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        x, gamma, beta, y, p = node.input[0], node.input[1], node.input[2], node.output[0], f"ln{k}_"
        graph.initializer.append(nh.from_array(np.array(eps, np.float32), p + "eps"))
        nodes += [h.make_node("ReduceMean", [x], [p + "mean"], axes=[-1], keepdims=1),
                  h.make_node("Sub", [x, p + "mean"], [p + "d"]),
                  h.make_node("Pow", [p + "d", "ln_two"], [p + "sq"]),
                  h.make_node("ReduceMean", [p + "sq"], [p + "var"], axes=[-1], keepdims=1),
                  h.make_node("Add", [p + "var", p + "eps"], [p + "ve"]),
                  h.make_node("Sqrt", [p + "ve"], [p + "std"]),
                  h.make_node("Div", [p + "d", p + "std"], [p + "n"]),
                  h.make_node("Mul", [p + "n", gamma], [p + "s"]),
                  h.make_node("Add", [p + "s", beta], [y])]
    del graph.node[:]
    graph.node.extend(nodes)
    return model


def reduce_mean_pools(model):
    for node in model.graph.node:
        if node.op_type == "GlobalAveragePool":
            node.op_type = "ReduceMean"
            node.attribute.extend([h.make_attribute("axes", [2, 3]), h.make_attribute("keepdims", 1)])
    return model


def main():
    deit, b0, out = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(written_out_layer_norms(onnx.load(deit)), str(out / "deit_tiny_written_out_layernorm.onnx"))
    onnx.save(reduce_mean_pools(onnx.load(b0)), str(out / "efficientnet_b0_reducemean_pools.onnx"))


if __name__ == "__main__":
    main()
