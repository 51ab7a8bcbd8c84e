"""The arithmetic of one run of an ONNX model: multiply-adds of its convolutions and matrix
products, counted as direct products whatever algorithm an engine runs them with (Winograd
does fewer), so GFLOP/s figures compare engines on the same work."""
import math

import onnx


def multiply_adds(model, batch: int = 1):
    """Multiply-adds of one run of the Conv, ConvTranspose, MatMul and Gemm nodes of `model`
    (a path or a ModelProto) with each input's symbolic first dimension set to `batch`, from
    ONNX's shape inference with data propagation (for shapes a Shape subgraph computes); None
    when any of their shapes stays unknown."""
    if isinstance(model, str):
        model = onnx.load(model)
    else:
        # The caller's model stays as it was (its inputs' first dimension is set below).
        model = onnx.ModelProto.FromString(model.SerializeToString())
    for value in model.graph.input:
        dims = value.type.tensor_type.shape.dim
        if dims and not dims[0].HasField("dim_value"):
            dims[0].dim_value = batch
    graph = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
              for v in list(graph.value_info) + list(graph.input) + list(graph.output)}
    shapes.update({t.name: list(t.dims) for t in graph.initializer})
    total = 0
    for node in graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "MatMul", "Gemm"):
            continue
        a, b, y = (shapes.get(name) for name in (node.input[0], node.input[1], node.output[0]))
        if any(s is None or None in s for s in (a, b, y)) or not a or not b:
            return None
        if node.op_type == "Conv":
            # Each output element sums C/group x kernel products.
            total += math.prod(y) * math.prod(b[1:])
        elif node.op_type == "ConvTranspose":
            # Each input element scatters into M/group x kernel outputs.
            total += math.prod(a) * math.prod(b[1:])
        elif node.op_type == "MatMul":
            total += math.prod(y) * a[-1]
        else:
            trans_a = next((attribute.i for attribute in node.attribute if attribute.name == "transA"), 0)
            total += math.prod(y) * (a[0] if trans_a else a[-1])
    return total
