#!/usr/bin/env python3
"""Writes Tests/Malformed: hostile model files and images, and cases.tsv, the outcome each must
give through every door (Swift, C, Python, CLI).

cases.tsv columns: kind, file, status, a fragment the error message must contain.
  load   loading the model fails
  run    the model loads; running it on x.npy (float32 [1, 3, 8, 8] zeros) fails
  image  classifying the image with the default model fails
Run from the repository root: python3 scripts/make-malformed.py (needs onnx, numpy, Pillow).
The outputs are committed; the script documents how each was made.
"""
import io
import pathlib
import struct
import zlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests/Malformed"
DEFAULT_MODEL = ROOT / "Resources/efficientnet-lite0.onnx"
IMAGE = ROOT / "Resources/chelsea.png"

cases = []


def x_input(shape=(1, 3, 8, 8)):
    return helper.make_tensor_value_info("x", TensorProto.FLOAT, list(shape))


def y_output(shape=None):
    return helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)


def model_bytes(nodes, inputs=None, outputs=None, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "hostile", inputs if inputs is not None else [x_input()],
                              outputs if outputs is not None else [y_output()], list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="make-malformed")
    model.ir_version = 8
    return model.SerializeToString()


def add(kind, name, data, status, fragment):
    path = OUT / ("models" if kind != "image" else "images") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    cases.append((kind, str(path.relative_to(OUT)), status, fragment))


def raw_tensor(name, dims, raw, data_type=TensorProto.FLOAT):
    t = TensorProto()
    t.name, t.data_type = name, data_type
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def identity_model_with(initializer, node_input=None):
    node = helper.make_node("Add", ["x", node_input or initializer.name], ["y"])
    return model_bytes([node], initializers=[initializer])


def hostile_models():
    whole = DEFAULT_MODEL.read_bytes()
    add("load", "truncated_header.onnx", whole[:64], "INVALID_MODEL", "malformed protobuf")
    small = (ROOT / "Tests/ManakoONNXTests/Models/small_raw/model.onnx").read_bytes()
    add("load", "truncated_half.onnx", small[: len(small) // 2], "INVALID_MODEL", "malformed protobuf")
    add("load", "empty.onnx", b"", "INVALID_MODEL", "no graph")
    add("load", "text.onnx", b"this is not an ONNX model, just text\n", "INVALID_MODEL", "malformed protobuf")
    # A length prefix claiming far more bytes than the file has.
    add("load", "huge_length.onnx", bytes([0x3A]) + b"\xff\xff\xff\xff\x0f" + b"\x00" * 16, "INVALID_MODEL", "runs past the end")
    add("load", "overlong_varint.onnx", bytes([0x08]) + b"\xff" * 11, "INVALID_MODEL", "varint")

    add("load", "negative_dims.onnx", identity_model_with(raw_tensor("w", [-1, 8], b"")), "INVALID_MODEL", "invalid dimensions")
    add("load", "huge_dims.onnx", identity_model_with(raw_tensor("w", [1 << 20, 1 << 20], b"")), "LIMIT_EXCEEDED", "maxTensorElements")
    add("load", "overflowing_dims.onnx", identity_model_with(raw_tensor("w", [1 << 40, 1 << 40], b"")), "INVALID_MODEL", "invalid dimensions")
    add("load", "wrong_raw_size.onnx", identity_model_with(raw_tensor("w", [1, 3, 8, 8], b"\x00" * 12)), "INVALID_MODEL", "raw data holds 12 bytes")
    add("load", "string_initializer.onnx", identity_model_with(raw_tensor("w", [1], b"a", TensorProto.STRING)), "INVALID_MODEL", "unsupported data type 8")

    external = raw_tensor("w", [1, 3, 8, 8], b"")
    external.ClearField("raw_data")
    external.data_location = TensorProto.EXTERNAL
    for key, value in [("location", "../../../../etc/passwd"), ("offset", "0")]:
        entry = external.external_data.add()
        entry.key, entry.value = key, value
    add("load", "external_escape.onnx", identity_model_with(external), "INVALID_MODEL", "leaves the model's folder")
    external.external_data[0].value = "/etc/passwd"
    add("load", "external_absolute.onnx", identity_model_with(external), "INVALID_MODEL", "leaves the model's folder")
    external.external_data[0].value = "no-such-file.bin"
    add("load", "external_missing.onnx", identity_model_with(external), "IO_ERROR", "no-such-file.bin")

    cycle = [helper.make_node("Relu", ["b"], ["a"], name="first"), helper.make_node("Relu", ["a"], ["b"], name="second"),
             helper.make_node("Add", ["x", "b"], ["y"], name="join")]
    add("load", "cycle.onnx", model_bytes(cycle), "INVALID_MODEL", "cycle")
    add("load", "dangling_input.onnx", model_bytes([helper.make_node("Add", ["x", "nowhere"], ["y"], name="reader")]),
        "INVALID_MODEL", "'nowhere'")
    add("load", "missing_output.onnx", model_bytes([helper.make_node("Relu", ["x"], ["z"])]), "INVALID_MODEL", "graph output 'y'")
    add("load", "two_producers.onnx", model_bytes([helper.make_node("Relu", ["x"], ["y"], name="one"),
                                                   helper.make_node("Sigmoid", ["x"], ["y"], name="two")]),
        "INVALID_MODEL", "already has a value")
    add("load", "unsupported_ops.onnx", model_bytes([helper.make_node("FancyOp", ["x"], ["z"], name="fancy"),
                                                     helper.make_node("Einsum", ["z"], ["y"], name="sum", equation="i->i")]),
        "UNSUPPORTED_OPERATOR", "2 unsupported operator(s)")
    add("load", "untyped_input.onnx", model_bytes([helper.make_node("Relu", ["x"], ["y"])],
                                                  inputs=[helper.make_tensor_value_info("x", TensorProto.STRING, [1])]),
        "INVALID_MODEL", "element type")
    w = numpy_helper.from_array(np.zeros((4, 5, 3, 3), np.float32), "w")
    add("load", "conv_channel_mismatch.onnx", model_bytes([helper.make_node("Conv", ["x", "w"], ["y"], name="conv")], initializers=[w]),
        "SHAPE_MISMATCH", "conv")
    w = numpy_helper.from_array(np.zeros((4, 3, 3, 3), np.float32), "w")
    add("load", "conv_huge_dilation.onnx", model_bytes([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", dilations=[1 << 40, 1])],
                                                       initializers=[w]),
        "LIMIT_EXCEEDED", "dilations")
    add("load", "conv_huge_pads.onnx", model_bytes([helper.make_node("Conv", ["x", "w"], ["y"], name="conv", pads=[1 << 20, 1 << 20, 1 << 20, 1 << 20])],
                                                   initializers=[w]),
        "LIMIT_EXCEEDED", "maxTensorElements")
    shape = numpy_helper.from_array(np.array([1 << 12, 1 << 12, 1, 3, 8, 8], np.int64), "shape")
    add("run", "expand_huge.onnx", model_bytes([helper.make_node("Expand", ["x", "shape"], ["y"], name="grow")], initializers=[shape]),
        "LIMIT_EXCEEDED", "maxTensorElements")
    add("load", "reshape_wrong_count.onnx",
        model_bytes([helper.make_node("Reshape", ["x", "shape"], ["y"], name="reshape")],
                    initializers=[numpy_helper.from_array(np.array([7, 7], np.int64), "shape")]),
        "SHAPE_MISMATCH", "reshape")
    add("run", "gather_out_of_range.onnx",
        model_bytes([helper.make_node("Gather", ["x", "i"], ["y"], name="pick", axis=1)],
                    initializers=[numpy_helper.from_array(np.array([3], np.int64), "i")]),
        "SHAPE_MISMATCH", "out of range")

    # Sizes that come from the input only at run time: limits must hold there too.
    scalar = lambda name, v, dtype=np.float32: numpy_helper.from_array(np.array(v, dtype), name)
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], keepdims=0, axes=[0, 1, 2, 3]),
             helper.make_node("Add", ["m", "big"], ["limit"]),
             helper.make_node("Range", ["zero", "limit", "one"], ["y"], name="range")]
    add("run", "range_huge.onnx", model_bytes(nodes, initializers=[scalar("big", 1e30), scalar("zero", 0.0), scalar("one", 1.0)], opset=13),
        "LIMIT_EXCEEDED", "Range of")
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Mul", ["s", "factor"], ["t"]),
             helper.make_node("ConstantOfShape", ["t"], ["y"], name="fill")]
    add("run", "constant_of_shape_huge.onnx", model_bytes(nodes, initializers=[scalar("factor", [1, 1 << 20, 1 << 20, 1], np.int64)]),
        "LIMIT_EXCEEDED", "maxTensorElements")
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Mul", ["s", "factor"], ["t"]),
             helper.make_node("Expand", ["x", "t"], ["y"], name="grow")]
    add("run", "expand_from_input.onnx", model_bytes(nodes, initializers=[scalar("factor", [1 << 22, 1, 1, 1], np.int64)]),
        "LIMIT_EXCEEDED", "maxTensorElements")
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Cast", ["s"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["f", "factor"], ["scales"]),
             helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize")]
    add("run", "resize_huge.onnx", model_bytes(nodes, initializers=[scalar("factor", [1, 1, 1e18, 1e18])]),
        "LIMIT_EXCEEDED", "Resize output")
    nodes = [helper.make_node("Shape", ["x"], ["s"]),
             helper.make_node("Concat", ["s", "s"], ["ss"], axis=0),
             helper.make_node("Mul", ["ss", "factor"], ["p"]),
             helper.make_node("Pad", ["x", "p"], ["y"], name="pad")]
    add("run", "pad_huge.onnx", model_bytes(nodes, initializers=[scalar("factor", [0, 0, 1 << 16, 1 << 16, 0, 0, 0, 0], np.int64)]),
        "LIMIT_EXCEEDED", "Pad output")
    # A type mismatch only visible at run time: float data against an int64 operand.
    nodes = [helper.make_node("Shape", ["x"], ["s"]), helper.make_node("Add", ["x", "s"], ["y"], name="mixed")]
    add("run", "type_mismatch.onnx", model_bytes(nodes), "SHAPE_MISMATCH", "mixed")


def png_chunk(kind, data, crc=None):
    crc = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def png(width, height, idat, bad_crc=False):
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header, 0 if bad_crc else None)
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def hostile_images():
    good = IMAGE.read_bytes()
    add("image", "truncated.png", good[:100], "INVALID_IMAGE", "truncated PNG")
    add("image", "truncated_rows.png", good[: len(good) * 2 // 3], "INVALID_IMAGE", "truncated PNG")
    add("image", "empty.png", b"", "INVALID_IMAGE", "empty image")
    add("image", "wrong_magic.png", b"GIF89a" + good[6:200], "INVALID_IMAGE", "unrecognised image format")
    add("image", "zero_size.png", png(0, 0, zlib.compress(b"")), "INVALID_IMAGE", "IHDR")
    add("image", "bad_crc.png", png(4, 4, zlib.compress(b"\x00" * 52), bad_crc=True), "INVALID_IMAGE", "CRC error")
    add("image", "corrupt_zlib.png", png(4, 4, b"\x78\x9c\xff\xff\xff\xff garbage"), "INVALID_IMAGE", "IDAT")
    # Decompression bombs: the header claims a huge picture; refused before any pixel buffer.
    add("image", "bomb.png", png(100_000, 100_000, zlib.compress(b"\x00" * 1024)), "LIMIT_EXCEEDED", "exceeds the limit")
    rgb = io.BytesIO()
    Image.open(IMAGE).convert("RGB").save(rgb, "JPEG", quality=90)
    jpeg = rgb.getvalue()
    add("image", "truncated.jpg", jpeg[:300], "INVALID_IMAGE", "invalid JPEG")
    add("image", "truncated_scan.jpg", jpeg[: len(jpeg) // 2], "INVALID_IMAGE", "truncated JPEG")
    start = jpeg.index(b"\xff\xc0")  # the baseline frame header: height and width follow its precision byte
    bomb = jpeg[: start + 5] + struct.pack(">HH", 65000, 65000) + jpeg[start + 9:]
    add("image", "bomb.jpg", bomb, "LIMIT_EXCEEDED", "exceeds the limit")


def main():
    for old in OUT.glob("*/*"):
        old.unlink()
    hostile_models()
    hostile_images()
    np.save(OUT / "x.npy", np.zeros((1, 3, 8, 8), np.float32))
    lines = ["# kind\tfile\tstatus\tmessage fragment (see scripts/make-malformed.py)"]
    lines += ["\t".join(case) for case in cases]
    (OUT / "cases.tsv").write_text("\n".join(lines) + "\n")
    print(f"wrote {len(cases)} cases to {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
