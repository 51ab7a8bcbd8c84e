#!/usr/bin/env python3
"""Writes Tests/ManakoONNXTests/node-tests.txt: the ONNX backend node tests (onnx 1.22.0) that
Manako runs in its test suite.

A test is a candidate when every node's operator is in Manako's operator table and every graph
input and output is float32, int64, int32 or bool. Candidates listed in EXCLUDED are written as
comments with their reason; everything else must pass. Usage: python3 scripts/node-tests.py
"""
import os
import pathlib
import re

import onnx

ROOT = pathlib.Path(__file__).resolve().parent.parent
TABLE = ROOT / "Sources/ManakoONNX/OperatorTable.swift"
OUT = ROOT / "Tests/ManakoONNXTests/node-tests.txt"
NODE = pathlib.Path(os.path.dirname(onnx.__file__)) / "backend/test/data/node"
TYPES = {onnx.TensorProto.FLOAT, onnx.TensorProto.INT64, onnx.TensorProto.INT32, onnx.TensorProto.BOOL}

# Genuine exclusions, with the reason. Keep this short: a failing test is a bug to fix first.
EXCLUDED = {
    **{name: "3-D pooling: Manako's windows are 1-D and 2-D (image classifiers)" for name in [
        "test_averagepool_3d_default", "test_averagepool_3d_dilations_small",
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_False",
        "test_averagepool_3d_dilations_large_count_include_pad_is_0_ceil_mode_is_True",
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_False",
        "test_averagepool_3d_dilations_large_count_include_pad_is_1_ceil_mode_is_True",
        "test_maxpool_3d_default", "test_maxpool_3d_dilations", "test_maxpool_3d_dilations_use_ref_impl",
        "test_maxpool_3d_dilations_use_ref_impl_large"]},
    **{name: "training mode (random masks, batch statistics): Manako runs inference only" for name in [
        "test_batchnorm_epsilon_training_mode", "test_batchnorm_example_training_mode", "test_training_dropout",
        "test_training_dropout_default", "test_training_dropout_default_mask", "test_training_dropout_mask"]},
    **{name: "Resize with antialias=1 or tf_crop_and_resize is not implemented (refused with an error); "
             "classifier exports do not use them" for name in [
        "test_resize_downsample_scales_cubic_antialias", "test_resize_downsample_scales_linear_antialias",
        "test_resize_downsample_sizes_cubic_antialias", "test_resize_downsample_sizes_linear_antialias",
        "test_resize_tf_crop_and_resize", "test_resize_tf_crop_and_resize_axes_2_3", "test_resize_tf_crop_and_resize_axes_3_2",
        "test_resize_tf_crop_and_resize_extrapolation_value"]},
    **{name: "MaxPool's Indices output (argmax) is not implemented; classifiers do not use it" for name in [
        "test_maxpool_with_argmax_2d_precomputed_pads", "test_maxpool_with_argmax_2d_precomputed_strides"]},
}


def supported_ops():
    return set(re.findall(r'^    "(\w+)": ', TABLE.read_text(), re.M))


def candidates(ops):
    for folder in sorted(NODE.iterdir()):
        try:
            model = onnx.load(str(folder / "model.onnx"))
        except Exception:
            continue
        if any(n.domain not in ("", "ai.onnx") or n.op_type not in ops for n in model.graph.node):
            continue
        values = list(model.graph.input) + list(model.graph.output)
        if not all(v.type.HasField("tensor_type") and v.type.tensor_type.elem_type in TYPES for v in values):
            continue
        yield folder.name


def main():
    names = list(candidates(supported_ops()))
    lines = ["# ONNX backend node tests (onnx 1.22.0) that must pass: written by scripts/node-tests.py.",
             "# Commented-out lines are exclusions, with the reason."]
    for name in names:
        lines.append(f"# {name}  # {EXCLUDED[name]}" if name in EXCLUDED else name)
    OUT.write_text("\n".join(lines) + "\n")
    print(f"{len(names) - sum(n in EXCLUDED for n in names)} tests allowed, {sum(n in EXCLUDED for n in names)} excluded")


if __name__ == "__main__":
    main()
