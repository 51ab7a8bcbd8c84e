#!/usr/bin/env python3
"""Regenerates the committed test fixtures (needs onnx, onnxruntime, numpy, pillow).

- Tests/ManakoONNXTests/Fixtures/<case>/: a one-node ONNX model per operator variant, its
  inputs and the expected outputs. Expected values come from ONNX Runtime and are checked
  against onnx.reference here: the script fails if the two oracles disagree, except for the
  cases in REFERENCE_EVALUATOR_BUGS.
- Tests/ManakoTests/Fixtures/: the default model's input for chelsea.png as PIL produces it
  (uint8, 224x224x3) and ONNX Runtime's logits for it.

Usage: python3 scripts/make-fixtures.py
"""
import pathlib
import shutil

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
OPS = ROOT / "Tests/ManakoONNXTests/Fixtures"
E2E = ROOT / "Tests/ManakoTests/Fixtures"
rng = np.random.default_rng(20261122)

# onnx 1.22's ReferenceEvaluator mishandles Conv's auto_pad: SAME_* with strides gives
# floor((in - 1) / stride) + 1 rows instead of the spec's ceil(in / stride), and VALID keeps the
# input size. ONNX Runtime follows the spec.
# It also refuses Pad's negative pads (numpy.pad cannot crop), and applies opset 13's Softmax
# (one axis) to opset 11 models, whose Softmax normalises over all dimensions from `axis` on.
REFERENCE_EVALUATOR_BUGS = {"conv_same_upper", "conv_same_lower", "conv_valid", "pad_negative_crops",
                            "softmax_coerced_opset11"}

NP_TO_ONNX = {np.float32: TensorProto.FLOAT, np.int64: TensorProto.INT64, np.bool_: TensorProto.BOOL}


def rand(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def case(name, op, inputs, attrs=None, opset=17, initializers=None, outputs=1, output_names=None):
    """One node reading graph inputs `inputs` (name -> array, None for an omitted optional input)
    and initializers; writes model.onnx, input_i.npy and output_i.npy."""
    initializers = initializers or {}
    names = list(inputs) + list(initializers)
    node_inputs = ["" if (n in inputs and inputs[n] is None) else n for n in names]
    out_names = output_names or [f"y{i}" for i in range(outputs)]
    node = helper.make_node(op, node_inputs, out_names, name=f"{name}_node", **(attrs or {}))
    graph_inputs = [helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype.type], a.shape)
                    for n, a in inputs.items() if a is not None]
    inits = [onnx.numpy_helper.from_array(a, n) for n, a in initializers.items()]
    graph_outputs = [helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None) for n in out_names if n]
    graph = helper.make_graph([node], name, graph_inputs, graph_outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    feeds = {n: a for n, a in inputs.items() if a is not None}
    used_outputs = [n for n in out_names if n]
    if name in REFERENCE_EVALUATOR_BUGS:
        expected, types = None, [np.float32] * len(used_outputs)
    else:
        expected = ReferenceEvaluator(model).run(None, feeds)
        types = [np.asarray(a).dtype.type for a in expected]
    # Type the outputs (ONNX Runtime needs them typed).
    del model.graph.output[:]
    model.graph.output.extend(helper.make_tensor_value_info(n, NP_TO_ONNX[t], None) for n, t in zip(used_outputs, types))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    from_ort = session.run(None, feeds)
    if expected is not None:
        for a, b in zip(expected, from_ort):
            np.testing.assert_allclose(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64),
                                       rtol=1e-5, atol=1e-5, err_msg=f"oracles disagree on {name}")
    expected = from_ort
    folder = OPS / name
    folder.mkdir(parents=True)
    onnx.save(model, folder / "model.onnx")
    for i, (n, a) in enumerate(feeds.items()):
        np.save(folder / f"input_{i}_{n}.npy", a)
    for i, (n, a) in enumerate(zip([n for n in out_names if n], expected)):
        np.save(folder / f"output_{i}_{n}.npy", np.asarray(a))


def operator_cases():
    x = rand(2, 3, 9, 8)
    # Conv: padding, strides, dilations, groups, depthwise, auto_pad, 1-D, no bias.
    case("conv_pads", "Conv", {"x": x}, {"pads": [1, 1, 1, 1]}, initializers={"w": rand(4, 3, 3, 3), "b": rand(4)})
    case("conv_strides_dilations_asymmetric", "Conv", {"x": x}, {"strides": [2, 1], "dilations": [2, 1], "pads": [0, 1, 2, 0]},
         initializers={"w": rand(5, 3, 3, 2), "b": rand(5)})
    case("conv_groups", "Conv", {"x": rand(1, 4, 7, 7)}, {"group": 2, "pads": [1, 1, 1, 1]}, initializers={"w": rand(6, 2, 3, 3)})
    case("conv_depthwise_5x5_stride2", "Conv", {"x": rand(1, 6, 11, 10)}, {"group": 6, "strides": [2, 2], "pads": [2, 2, 2, 2]},
         initializers={"w": rand(6, 1, 5, 5), "b": rand(6)})
    case("conv_same_upper", "Conv", {"x": x}, {"auto_pad": "SAME_UPPER", "strides": [2, 2]}, initializers={"w": rand(2, 3, 4, 4)})
    case("conv_same_lower", "Conv", {"x": x}, {"auto_pad": "SAME_LOWER", "strides": [2, 2]}, initializers={"w": rand(2, 3, 4, 4)})
    case("conv_valid", "Conv", {"x": x}, {"auto_pad": "VALID"}, initializers={"w": rand(2, 3, 3, 3)})
    case("conv_1x1", "Conv", {"x": x}, initializers={"w": rand(7, 3, 1, 1), "b": rand(7)})
    case("conv_1d", "Conv", {"x": rand(2, 3, 10)}, {"pads": [1, 2], "strides": [2]}, initializers={"w": rand(4, 3, 3)})
    case("conv_weights_as_input", "Conv", {"x": x, "w": rand(2, 3, 3, 3)})
    # Elementwise.
    case("relu", "Relu", {"x": x})
    case("clip_inputs", "Clip", {"x": x, "lo": np.array(-0.5, np.float32), "hi": np.array(0.7, np.float32)})
    case("clip_max_only", "Clip", {"x": x, "lo": None, "hi": np.array(0.3, np.float32)})
    case("clip_attributes_opset6", "Clip", {"x": x}, {"min": -0.2, "max": 0.4}, opset=6)
    case("add_broadcast", "Add", {"a": rand(2, 3, 4, 5), "b": rand(3, 1, 5)})
    case("add_int64", "Add", {"a": np.array([[1, 2, 3]], np.int64), "b": np.array([[10], [20]], np.int64)})
    case("mul_broadcast", "Mul", {"a": rand(2, 1, 4), "b": rand(3, 1)})
    case("mul_scalar", "Mul", {"a": rand(2, 3), "b": np.array(2.5, np.float32)})
    # Pad.
    pads = np.array([0, 0, 1, 2, 0, 0, 2, 1], np.int64)
    case("pad_constant", "Pad", {"x": x}, {"mode": "constant"}, initializers={"pads": pads, "value": np.array(1.5, np.float32)})
    case("pad_reflect", "Pad", {"x": x}, {"mode": "reflect"}, initializers={"pads": pads})
    case("pad_edge", "Pad", {"x": x}, {"mode": "edge"}, initializers={"pads": pads})
    case("pad_negative_crops", "Pad", {"x": x}, initializers={"pads": np.array([0, 0, -1, 1, 0, 0, 1, -2], np.int64)})
    case("pad_attributes_opset2", "Pad", {"x": x}, {"pads": [0, 0, 1, 1, 0, 0, 1, 1], "value": -1.0}, opset=2)
    # Pooling.
    case("maxpool_3x3_s2", "MaxPool", {"x": x}, {"kernel_shape": [3, 3], "strides": [2, 2]})
    case("maxpool_ceil_pads", "MaxPool", {"x": x}, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1})
    case("maxpool_same_upper", "MaxPool", {"x": x}, {"kernel_shape": [2, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"})
    case("maxpool_dilated", "MaxPool", {"x": x}, {"kernel_shape": [2, 2], "dilations": [2, 2]})
    case("averagepool_exclude_pad", "AveragePool", {"x": x}, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]})
    case("averagepool_include_pad", "AveragePool", {"x": x}, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1})
    case("averagepool_ceil", "AveragePool", {"x": x}, {"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1})
    case("globalaveragepool", "GlobalAveragePool", {"x": x})
    # Gemm and MatMul.
    case("gemm_transb_bias", "Gemm", {"a": rand(3, 5)}, {"transB": 1, "alpha": 0.5, "beta": 2.0}, initializers={"b": rand(4, 5), "c": rand(4)})
    case("gemm_transa", "Gemm", {"a": rand(5, 3), "b": rand(5, 4)}, {"transA": 1})
    case("gemm_scalar_c", "Gemm", {"a": rand(2, 3), "b": rand(3, 4), "c": np.array([0.25], np.float32)})
    case("matmul_2d", "MatMul", {"a": rand(3, 7), "b": rand(7, 2)})
    case("matmul_batched_broadcast", "MatMul", {"a": rand(2, 1, 3, 4), "b": rand(3, 4, 5)})
    case("matmul_vector", "MatMul", {"a": rand(4), "b": rand(2, 4, 3)})
    # ReduceMean (torch's exporter writes adaptive average pooling with it).
    case("reducemean_axes_input_opset18", "ReduceMean", {"x": x}, initializers={"axes": np.array([-2, -1], np.int64)}, opset=18)
    case("reducemean_axes_attribute_opset13", "ReduceMean", {"x": x}, {"axes": [1], "keepdims": 0}, opset=13)
    case("reducemean_all_axes", "ReduceMean", {"x": x}, {"keepdims": 0}, opset=13)
    # Shapes.
    case("flatten_axis2", "Flatten", {"x": x}, {"axis": 2})
    case("flatten_axis0", "Flatten", {"x": x}, {"axis": 0})
    case("reshape_zero_and_minus_one", "Reshape", {"x": x}, initializers={"shape": np.array([0, -1, 4], np.int64)})
    case("reshape_allowzero", "Reshape", {"x": rand(0, 3)}, {"allowzero": 1}, opset=14,
         initializers={"shape": np.array([3, 0], np.int64)})
    case("concat_axis1", "Concat", {"a": rand(2, 3, 4), "b": rand(2, 1, 4), "c": rand(2, 2, 4)}, {"axis": 1})
    case("concat_negative_axis", "Concat", {"a": rand(2, 3), "b": rand(2, 2)}, {"axis": -1})
    case("softmax_axis_opset13", "Softmax", {"x": rand(2, 3, 4)}, {"axis": 1}, opset=13)
    case("softmax_default_opset13", "Softmax", {"x": rand(2, 3, 4)}, opset=13)
    case("softmax_coerced_opset11", "Softmax", {"x": rand(2, 3, 4)}, {"axis": 1}, opset=11)
    case("dropout_with_mask", "Dropout", {"x": x}, opset=13, outputs=2)
    case("identity", "Identity", {"x": x})
    case("constant", "Constant", {}, {"value": onnx.numpy_helper.from_array(rand(2, 3))})


MODELS = ROOT / "Tests/ManakoONNXTests/Models"


def save_with_expected(model, folder, feeds, external=False, oracle=None):
    """Saves `model` (optionally with external data) with inputs and ONNX Runtime's outputs,
    computed on `oracle` when given (an equivalent model ONNX Runtime accepts)."""
    folder.mkdir(parents=True)
    if external:
        onnx.save(model, folder / "model.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                  location="model.weights", size_threshold=0)
    else:
        onnx.save(model, folder / "model.onnx")
    source = oracle.SerializeToString() if oracle is not None else str(folder / "model.onnx")
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    for i, (n, a) in enumerate(feeds.items()):
        np.save(folder / f"input_{i}_{n}.npy", a)
    for i, (out, a) in enumerate(zip(session.get_outputs(), session.run(None, feeds))):
        np.save(folder / f"output_{i}_{out.name}.npy", a)


def small_network(initializer_form, seed=7):
    """Conv-Relu-MaxPool-Conv(+residual Add)-GlobalAveragePool-Flatten-Gemm-Softmax, the
    torchvision ResNet pattern in miniature; `initializer_form` picks how weights are stored."""
    local = np.random.default_rng(seed)
    w1, b1, w2, b2, fc, fcb = (local.standard_normal(s).astype(np.float32)
                               for s in [(4, 3, 3, 3), (4,), (4, 4, 3, 3), (4,), (5, 4), (5,)])
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "p1"], ["sum"], name="residual"),
        helper.make_node("GlobalAveragePool", ["sum"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], ["prob"], name="softmax", axis=1),
    ]
    weights = {"w1": w1, "b1": b1, "w2": w2, "b2": b2, "fc": fc, "fcb": fcb}
    inits = []
    for n, a in weights.items():
        if initializer_form == "float64":
            t = helper.make_tensor(n, TensorProto.DOUBLE, a.shape, a.astype(np.float64).ravel().tolist())
        elif initializer_form == "float16":
            a16 = a.astype(np.float16)
            weights[n] = a16.astype(np.float32)
            t = helper.make_tensor(n, TensorProto.FLOAT16, a.shape, a16.view(np.uint16).ravel().tolist())
        elif initializer_form == "float_data":
            t = helper.make_tensor(n, TensorProto.FLOAT, a.shape, a.ravel().tolist())
        else:
            t = onnx.numpy_helper.from_array(a, n)
        inits.append(t)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, 8, 8])
    graph_inputs = [x]
    if initializer_form == "listed_as_inputs":
        graph_inputs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, a.shape) for n, a in weights.items()]
    # Nodes in reverse file order: the importer must sort them.
    graph = helper.make_graph(list(reversed(nodes)), "small", graph_inputs,
                              [helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch", 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="manako-fixtures")
    model.ir_version = 8 if initializer_form != "listed_as_inputs" else 3
    model.metadata_props.add(key="author", value="make-fixtures")
    return model, weights


def float32_twin(model, weights):
    """The same network with float32 raw initializers holding `weights` (for ONNX Runtime)."""
    twin = onnx.ModelProto()
    twin.CopyFrom(model)
    del twin.graph.initializer[:]
    twin.graph.initializer.extend(onnx.numpy_helper.from_array(a, n) for n, a in weights.items())
    return twin


def keras_style_network():
    """The node patterns tf2onnx writes for a Keras CNN (TensorFlow is too heavy to install here):
    NHWC input with Transpose pairs, explicit Pad, unfolded BatchNormalization (epsilon 1e-3),
    ReduceMean over H and W, Reshape with 0 and -1, MatMul + Add instead of Gemm, Softmax in the graph."""
    local = np.random.default_rng(11)
    def r(*shape):
        return local.standard_normal(shape).astype(np.float32)
    weights = {
        "pads": np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64), "conv_w": r(6, 3, 3, 3), "conv_b": r(6),
        "bn_scale": (1 + 0.1 * r(6)), "bn_bias": r(6), "bn_mean": r(6), "bn_var": np.abs(r(6)) + 0.5,
        "flat_shape": np.array([0, -1], np.int64), "dense_w": r(6, 4), "dense_b": r(4),
    }
    nodes = [
        helper.make_node("Transpose", ["input"], ["nchw"], name="StatefulPartitionedCall/conv/transpose", perm=[0, 3, 1, 2]),
        helper.make_node("Pad", ["nchw", "pads"], ["padded"], name="zero_padding/Pad", mode="constant"),
        helper.make_node("Conv", ["padded", "conv_w", "conv_b"], ["conv"], name="conv/BiasAdd", kernel_shape=[3, 3], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["conv", "bn_scale", "bn_bias", "bn_mean", "bn_var"], ["bn"], name="bn/FusedBatchNormV3", epsilon=1e-3),
        helper.make_node("Relu", ["bn"], ["relu"], name="relu/Relu"),
        helper.make_node("Transpose", ["relu"], ["nhwc"], name="relu/transpose_back", perm=[0, 2, 3, 1]),
        helper.make_node("Transpose", ["nhwc"], ["nchw2"], name="pool/transpose", perm=[0, 3, 1, 2]),
        helper.make_node("MaxPool", ["nchw2"], ["pool"], name="pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", ["pool"], ["nhwc2"], name="pool/transpose_back", perm=[0, 2, 3, 1]),
        helper.make_node("ReduceMean", ["nhwc2"], ["gap"], name="global_average_pooling/Mean", axes=[1, 2], keepdims=1),
        helper.make_node("Reshape", ["gap", "flat_shape"], ["flat"], name="flatten/Reshape"),
        helper.make_node("MatMul", ["flat", "dense_w"], ["mm"], name="dense/MatMul"),
        helper.make_node("Add", ["mm", "dense_b"], ["logits"], name="dense/BiasAdd"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="dense/Softmax", axis=-1),
    ]
    graph = helper.make_graph(nodes, "keras_style", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["unk__6", 16, 16, 3])],
                              [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["unk__7", 4])],
                              [onnx.numpy_helper.from_array(a, n) for n, a in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx-style")
    model.ir_version = 7
    return model


def model_cases():
    feeds = {"x": rand(2, 3, 8, 8)}
    for form in ["raw", "float_data", "float64", "float16", "listed_as_inputs"]:
        model, weights = small_network(form)
        oracle = float32_twin(model, weights) if form in ("float64", "float16") else None
        save_with_expected(model, MODELS / f"small_{form}", feeds, oracle=oracle)
    save_with_expected(small_network("raw")[0], MODELS / "small_external_data", feeds, external=True)
    save_with_expected(keras_style_network(), MODELS / "keras_style", {"input": rand(2, 16, 16, 3)})
    # Two unsupported operators and a custom domain: load must list all three.
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="fine"),
             helper.make_node("Sin", ["a"], ["b"], name="trig"),
             helper.make_node("Foo", ["b"], ["c"], name="custom", domain="com.example"),
             helper.make_node("Cos", ["c"], ["y"], name="trig2")]
    graph = helper.make_graph(nodes, "unsupported", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15), helper.make_opsetid("com.example", 1)])
    MODELS.joinpath("unsupported").mkdir(parents=True)
    onnx.save(model, MODELS / "unsupported/model.onnx")
    # Shapes that cannot fit: a 4-channel filter on a 3-channel input. Load must name the node.
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="mismatched_conv")
    graph = helper.make_graph([conv], "bad_shapes", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [onnx.numpy_helper.from_array(np.ones((2, 4, 3, 3), np.float32), "w")])
    MODELS.joinpath("bad_shapes").mkdir(parents=True)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), MODELS / "bad_shapes/model.onnx")


IMAGES = ROOT / "Tests/ManakoImageTests/Fixtures"


def image_cases():
    """PIL's own results: resizes of an odd-sized image and PNGs of every colour type."""
    rng = np.random.default_rng(37)  # its own generator: other fixtures do not shift these
    source = rng.integers(0, 256, (23, 37, 3), dtype=np.uint8)
    np.save(IMAGES / "source_37x23.npy", source)
    image = Image.fromarray(source)
    filters = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
    for name, f in filters.items():
        for w, h in [(1, 1), (5, 3), (37, 11), (64, 64), (100, 7), (13, 23)]:
            np.save(IMAGES / f"resize_{name}_{w}x{h}.npy", np.asarray(image.resize((w, h), f)))
    modes = {"gray": "L", "gray_alpha": "LA", "rgba": "RGBA", "palette": "P", "bilevel": "1", "rgb": "RGB"}
    for name, mode in modes.items():
        converted = image.convert(mode) if mode != "RGBA" else Image.fromarray(
            np.dstack([source, rng.integers(0, 256, source.shape[:2], dtype=np.uint8)]))
        converted.save(IMAGES / f"{name}.png")
        np.save(IMAGES / f"{name}_rgb.npy", np.asarray(Image.open(IMAGES / f"{name}.png").convert("RGB")))
    # What Pillow cannot write (pypng can): 16-bit, Adam7 interlacing, 2- and 4-bit gray.
    import png
    h, w = source.shape[:2]
    def write(name, rows, **options):
        with open(IMAGES / f"{name}.png", "wb") as f:
            png.Writer(w, h, **options).write(f, rows)
    rgb16 = rng.integers(0, 65536, (h, w, 3), dtype=np.uint16)
    write("rgb16", rgb16.reshape(h, -1).tolist(), greyscale=False, bitdepth=16)
    np.save(IMAGES / "rgb16_rgb.npy", np.asarray(Image.open(IMAGES / "rgb16.png").convert("RGB")))  # Pillow: high byte
    gray16 = rng.integers(0, 65536, (h, w), dtype=np.uint16)
    write("gray16", gray16.tolist(), greyscale=True, bitdepth=16)
    # Pillow clips 16-bit gray to 255 on convert("RGB"); Manako keeps the high byte, as for RGB.
    np.save(IMAGES / "gray16_rgb.npy", np.repeat((gray16 >> 8).astype(np.uint8)[:, :, None], 3, axis=2))
    write("interlaced", source.reshape(h, -1).tolist(), greyscale=False, bitdepth=8, interlace=True)
    np.save(IMAGES / "interlaced_rgb.npy", np.asarray(Image.open(IMAGES / "interlaced.png").convert("RGB")))
    for depth in (2, 4):
        gray = rng.integers(0, 1 << depth, (h, w), dtype=np.uint8)
        write(f"gray{depth}", gray.tolist(), greyscale=True, bitdepth=depth)
        np.save(IMAGES / f"gray{depth}_rgb.npy", np.asarray(Image.open(IMAGES / f"gray{depth}.png").convert("RGB")))


def jpeg_cases():
    """JPEGs Pillow writes, and what Pillow decodes from them (EXIF orientation applied)."""
    from PIL import ImageOps
    photo = Image.open(ROOT / "Resources/chelsea.png").convert("RGB").crop((180, 60, 244, 108))  # 64x48
    variants = {
        "baseline_420": dict(quality=90),
        "progressive": dict(quality=85, progressive=True),
        "baseline_444": dict(quality=95, subsampling=0),
    }
    for name, options in variants.items():
        photo.save(IMAGES / f"jpeg_{name}.jpg", **options)
    photo.convert("L").save(IMAGES / "jpeg_gray.jpg", quality=90)
    photo.convert("CMYK").save(IMAGES / "jpeg_cmyk.jpg", quality=90)
    for orientation in (3, 5, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        photo.save(IMAGES / f"jpeg_orientation_{orientation}.jpg", quality=90, exif=exif.tobytes())
    for path in sorted(IMAGES.glob("jpeg_*.jpg")):
        decoded = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
        np.save(path.with_suffix(".npy"), np.asarray(decoded))


def end_to_end():
    image = Image.open(ROOT / "Resources/chelsea.png").convert("RGB")
    w, h = image.size
    side = int(min(w, h) * 224 / 256)
    left, top = (w - side) // 2, (h - side) // 2
    pixels = np.asarray(image.crop((left, top, left + side, top + side)).resize((224, 224), Image.BICUBIC))
    np.save(E2E / "chelsea_pil_224.npy", pixels)
    x = ((pixels.astype(np.float32) - 127) / 128).transpose(2, 0, 1)[None].copy()
    session = ort.InferenceSession(str(ROOT / "Resources/efficientnet-lite0.onnx"), providers=["CPUExecutionProvider"])
    np.save(E2E / "chelsea_logits_ort.npy", session.run(None, {"input": x})[0])


if __name__ == "__main__":
    shutil.rmtree(OPS, ignore_errors=True)
    OPS.mkdir(parents=True)
    E2E.mkdir(parents=True, exist_ok=True)
    operator_cases()
    shutil.rmtree(MODELS, ignore_errors=True)
    model_cases()
    shutil.rmtree(IMAGES, ignore_errors=True)
    IMAGES.mkdir(parents=True)
    image_cases()
    jpeg_cases()
    end_to_end()
    print(f"wrote {len(list(OPS.iterdir()))} operator fixtures and the end-to-end fixtures")
