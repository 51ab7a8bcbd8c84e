"""VGG-19 in torchvision's layout (16 conv 3x3 + ReLU, 5 max pools, 3 fully connected layers)
with random He-initialised weights, built with onnx.helper, for benchmarks where torch is not
installed. Usage: python3 benchmarks/make_vgg19.py OUT.onnx"""
import sys

import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper
rng = np.random.default_rng(0)
cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]
nodes, inits = [], []
x, c = "input", 3
for i, v in enumerate(cfg):
    if v == "M":
        nodes.append(helper.make_node("MaxPool", [x], [f"p{i}"], kernel_shape=[2, 2], strides=[2, 2])); x = f"p{i}"; continue
    w = (rng.standard_normal((v, c, 3, 3)) * np.sqrt(2 / (c * 9))).astype(np.float32)
    inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(v, np.float32), f"b{i}")]
    nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"c{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
              helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
    x, c = f"r{i}", v
nodes.append(helper.make_node("Flatten", [x], ["flat"], axis=1)); x = "flat"
for j, (i, o) in enumerate([(25088, 4096), (4096, 4096), (4096, 1000)]):
    w = (rng.standard_normal((o, i)) * np.sqrt(2 / i)).astype(np.float32)
    inits += [numpy_helper.from_array(w, f"fw{j}"), numpy_helper.from_array(np.zeros(o, np.float32), f"fb{j}")]
    out = "logits" if j == 2 else f"f{j}"
    nodes.append(helper.make_node("Gemm", [x, f"fw{j}", f"fb{j}"], [out], transB=1))
    if j < 2: nodes.append(helper.make_node("Relu", [out], [f"fr{j}"])); out = f"fr{j}"
    x = out
g = helper.make_graph(nodes, "vgg19", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 224, 224])],
                      [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 1000])], inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
onnx.save(m, sys.argv[1] if len(sys.argv) > 1 else "vgg19.onnx")
