"""`model_work.multiply_adds` against counts worked by hand on small graphs."""
import math

from onnx import TensorProto, helper

from model_work import multiply_adds


def graph_model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def weights(name, dims):
    return helper.make_tensor(name, TensorProto.FLOAT, dims, [0.0] * math.prod(dims))


def test_convolution_counts_each_output_times_its_window():
    # Y [2, 4, 8, 8] from X [2, 6, 8, 8], 3x3, two groups: 2*4*8*8 outputs x (6/2)*3*3 = 13824.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 6, 8, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1], group=2)
    model = graph_model([conv], [x], [y], [weights("w", [4, 3, 3, 3])])
    assert multiply_adds(model, batch=2) == 2 * 4 * 8 * 8 * 3 * 3 * 3


def test_matrix_products_and_gemm():
    # MatMul [3, 5, 7] x [7, 2]: 3*5*2 outputs x 7; Gemm transA: A [7, 4] as [4, 7] x [7, 9]: 4*9 x 7.
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [3, 5, 7])
    g = helper.make_tensor_value_info("g", TensorProto.FLOAT, [7, 4])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("p", "q")]
    nodes = [helper.make_node("MatMul", ["a", "b"], ["p"]), helper.make_node("Gemm", ["g", "c"], ["q"], transA=1)]
    model = graph_model(nodes, [a, g], outs, [weights("b", [7, 2]), weights("c", [7, 9])])
    assert multiply_adds(model) == 3 * 5 * 2 * 7 + 4 * 9 * 7


def test_shapes_computed_by_a_shape_subgraph_are_followed():
    # Reshape to Shape(x)[0] x 12, then MatMul by [12, 3]: n*3 outputs x 12 (n = 5).
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [
        helper.make_node("Shape", ["x"], ["s"], end=1),
        helper.make_node("Concat", ["s", "twelve"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "w"], ["y"]),
    ]
    twelve = helper.make_tensor("twelve", TensorProto.INT64, [1], [12])
    model = graph_model(nodes, [x], [y], [twelve, weights("w", [12, 3])])
    assert multiply_adds(model, batch=5) == 5 * 3 * 12


def test_a_dot_product_of_vectors():
    # [6] . [6]: a scalar from 6 multiply-adds.
    v = helper.make_tensor_value_info("v", TensorProto.FLOAT, [6])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    model = graph_model([helper.make_node("MatMul", ["v", "w"], ["y"])], [v], [y], [weights("w", [6])])
    assert multiply_adds(model) == 6


def test_an_unknown_shape_gives_none():
    # A Reshape to a runtime-computed shape with no data to propagate.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 6])
    t = helper.make_tensor_value_info("t", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    nodes = [helper.make_node("Reshape", ["x", "t"], ["r"]), helper.make_node("MatMul", ["r", "w"], ["y"])]
    model = graph_model(nodes, [x, t], [y], [weights("w", [6, 2])])
    assert multiply_adds(model) is None
