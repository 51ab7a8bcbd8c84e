import ManakoCore

/// Builds a core operator from an ONNX node, resolving attributes and opset differences.
typealias OperatorBuilder = @Sendable (NodeContext) throws -> any Operator

/// A Reduce operator's builder: the axes are an attribute before opset `since`, an optional
/// input from it on.
func reduceBuilder<R: AxisReducing>(_ type: R.Type, axesInputSince since: Int) -> OperatorBuilder {
    { c in
        R(axes: c.opset < since ? c.ints("axes") : nil, keepDims: c.int("keepdims", 1) != 0,
          noopWithEmptyAxes: c.int("noop_with_empty_axes", 0) != 0)
    }
}

/// The one table from ONNX operator names (default domain) to builders. An operator missing
/// here is reported as unsupported, with its node and opset.
let operatorTable: [String: OperatorBuilder] = [
    "Abs": { _ in Abs() },
    "Add": { _ in Add() },
    "AveragePool": { c in
        AveragePool(kernelShape: try c.requiredInts("kernel_shape"), strides: c.ints("strides"),
                    dilations: c.ints("dilations"), pads: c.ints("pads"), autoPad: try c.autoPad(),
                    ceilMode: c.int("ceil_mode", 0) != 0, countIncludePad: c.int("count_include_pad", 0) != 0)
    },
    "BatchNormalization": { c in
        if c.int("training_mode", 0) != 0 { throw ManakoError(.unsupportedOperator, "training_mode=1 is not supported") }
        if c.opset < 9 && c.int("spatial", 1) == 0 { throw ManakoError(.unsupportedOperator, "spatial=0 is not supported") }
        for output in 1..<5 { try c.refuseOutput(output, "training statistics") }
        return BatchNormalization(epsilon: c.float("epsilon", 1e-5))
    },
    "Cast": { c in
        guard let type = ONNXDataType(rawValue: c.int("to", 0))?.coreType else {
            throw ManakoError(.unsupportedOperator, "casting to data type \(c.int("to", 0)) is not supported")
        }
        return Cast(to: type)
    },
    "Clip": { c in
        // Opset 6-10 carry the bounds as attributes; 11+ as optional inputs.
        c.opset < 11 ? Clip(min: c.float("min", -.greatestFiniteMagnitude), max: c.float("max", .greatestFiniteMagnitude)) : Clip()
    },
    "Concat": { c in Concat(axis: c.int("axis", 1)) },
    "Constant": { c in Constant(try constantValue(c)) },
    "ConstantOfShape": { c in
        guard let t = c.attribute("value")?.t else { return ConstantOfShape() }
        var decoder = c.tensorDecoder()
        return ConstantOfShape(value: try decoder.decode(t, what: "value"))
    },
    "Conv": { c in
        Conv(kernelShape: c.ints("kernel_shape"), strides: c.ints("strides"), dilations: c.ints("dilations"),
             pads: c.ints("pads"), autoPad: try c.autoPad(), group: c.int("group", 1))
    },
    "Div": { _ in Div() },
    "Dropout": { c in Identity(producesMask: c.node.outputs.count > 1 && !c.node.outputs[1].isEmpty) },
    "Equal": { _ in Equal() },
    "Erf": { _ in Erf() },
    "Exp": { _ in Exp() },
    "Expand": { _ in Expand() },
    "Flatten": { c in Flatten(axis: c.int("axis", 1)) },
    "Gather": { c in Gather(axis: c.int("axis", 0)) },
    "Gelu": { c in
        switch c.string("approximate", "none") {
        case "none": return Gelu()
        case "tanh": return Gelu(tanhApproximation: true)
        case let other: throw ManakoError(.invalidModel, "unknown approximate '\(other)'")
        }
    },
    "Gemm": { c in
        Gemm(alpha: c.float("alpha", 1), beta: c.float("beta", 1),
             transA: c.int("transA", 0) != 0, transB: c.int("transB", 0) != 0)
    },
    "GlobalAveragePool": { _ in GlobalAveragePool() },
    "Greater": { _ in Greater() },
    "GreaterOrEqual": { _ in GreaterOrEqual() },
    "HardSigmoid": { c in HardSigmoid(alpha: c.float("alpha", 0.2), beta: c.float("beta", 0.5)) },
    "HardSwish": { _ in HardSwish() },
    "Identity": { _ in Identity() },
    "LayerNormalization": { c in LayerNormalization(axis: c.int("axis", -1), epsilon: c.float("epsilon", 1e-5)) },
    "LeakyRelu": { c in LeakyRelu(alpha: c.float("alpha", 0.01)) },
    "Less": { _ in Less() },
    "LessOrEqual": { _ in LessOrEqual() },
    "Log": { _ in Log() },
    "MatMul": { _ in MatMul() },
    "Max": { _ in Max() },
    "MaxPool": { c in
        try c.refuseOutput(1, "Indices")
        if c.int("storage_order", 0) != 0 { throw ManakoError(.unsupportedOperator, "storage_order=1 is not supported") }
        return MaxPool(kernelShape: try c.requiredInts("kernel_shape"), strides: c.ints("strides"),
                       dilations: c.ints("dilations"), pads: c.ints("pads"), autoPad: try c.autoPad(),
                       ceilMode: c.int("ceil_mode", 0) != 0)
    },
    "Min": { _ in Min() },
    "Mod": { c in Mod(fmod: c.int("fmod", 0) != 0) },
    "Mul": { _ in Mul() },
    "Neg": { _ in Neg() },
    "Not": { _ in Not() },
    "Pad": { c in
        guard let mode = Pad.Mode(rawValue: c.string("mode", "constant")) else {
            throw ManakoError(.invalidModel, "unknown Pad mode '\(c.string("mode", ""))'")
        }
        // Opset 2-10 carry pads and value as attributes; 11+ as inputs.
        return c.opset < 11 ? Pad(mode: mode, staticPads: try c.requiredInts(c.opset < 2 ? "paddings" : "pads"), staticValue: c.float("value", 0))
            : Pad(mode: mode)
    },
    "Pow": { _ in Pow() },
    "Range": { _ in Arange() },
    "Reciprocal": { _ in Reciprocal() },
    "ReduceMean": reduceBuilder(ReduceMean.self, axesInputSince: 18),
    "ReduceMax": reduceBuilder(ReduceMax.self, axesInputSince: 18),
    "ReduceMin": reduceBuilder(ReduceMin.self, axesInputSince: 18),
    "ReduceSum": reduceBuilder(ReduceSum.self, axesInputSince: 13),
    "Relu": { _ in Relu() },
    "Reshape": { c in
        // Opset 1-4 carry the shape as an attribute.
        if c.opset < 5 { return StaticReshape(shape: try c.requiredInts("shape")) }
        return Reshape(allowZero: c.int("allowzero", 0) != 0)
    },
    "Resize": { c in
        if c.int("antialias", 0) != 0 { throw ManakoError(.unsupportedOperator, "antialias=1 is not supported") }
        guard let policy = Resize.AspectPolicy(rawValue: c.string("keep_aspect_ratio_policy", "stretch")) else {
            throw ManakoError(.invalidModel, "unknown keep_aspect_ratio_policy '\(c.string("keep_aspect_ratio_policy", ""))'")
        }
        guard let mode = Resize.Mode(rawValue: c.string("mode", "nearest")),
              let nearest = Resize.Nearest(rawValue: c.string("nearest_mode", "round_prefer_floor")) else {
            throw ManakoError(.invalidModel, "unknown mode '\(c.string("mode", ""))' or nearest_mode '\(c.string("nearest_mode", ""))'")
        }
        // Opset 10 has no coordinate_transformation_mode: it resizes like Upsample (asymmetric).
        let coordinateName = c.opset < 11 ? "asymmetric" : c.string("coordinate_transformation_mode", "half_pixel")
        guard let coordinates = Resize.Coordinates(rawValue: coordinateName) else {
            throw ManakoError(.unsupportedOperator, "coordinate_transformation_mode '\(coordinateName)' is not supported")
        }
        return Resize(mode: mode, coordinates: coordinates, nearest: c.opset < 11 ? .floor : nearest,
                      cubicCoefficient: c.float("cubic_coeff_a", -0.75), excludeOutside: c.int("exclude_outside", 0) != 0,
                      axes: c.ints("axes"), scalesInput: c.opset < 11 ? 1 : 2, aspectPolicy: policy)
    },
    "ScatterND": { c in
        guard let reduction = ScatterND.Reduction(rawValue: c.string("reduction", "none")) else {
            throw ManakoError(.invalidModel, "unknown reduction '\(c.string("reduction", ""))'")
        }
        return ScatterND(reduction: reduction)
    },
    "Shape": { c in ShapeOf(start: c.int("start", 0), end: c.attribute("end").map { Int(clamping: $0.i) }) },
    "Sigmoid": { _ in Sigmoid() },
    "Slice": { c in
        // Opset 1-9 carry starts, ends and axes as attributes; 10+ as inputs.
        c.opset < 10 ? StridedSlice(starts: try c.requiredInts("starts"), ends: try c.requiredInts("ends"), axes: c.ints("axes")) : StridedSlice()
    },
    "Softmax": { c in Softmax(axis: c.int("axis", c.opset < 13 ? 1 : -1), coerce2D: c.opset < 13) },
    "Split": { c in
        Split(axis: c.int("axis", 0), split: c.opset < 13 ? c.ints("split") : nil, outputCount: c.node.outputs.count)
    },
    "Sqrt": { _ in Sqrt() },
    "Squeeze": { c in Squeeze(axes: c.opset < 13 ? c.ints("axes") : nil) },
    "Sub": { _ in Sub() },
    "Sum": { _ in Sum() },
    "Tanh": { _ in Tanh() },
    "Transpose": { c in Transpose(permutation: c.ints("perm")) },
    "Unsqueeze": { c in Unsqueeze(axes: c.opset < 13 ? c.ints("axes") : nil) },
    "Upsample": { c in
        // Upsample (opset 7-9) resizes like Resize with asymmetric coordinates, nearest rounding down.
        let mode = c.string("mode", "nearest")
        guard mode == "nearest" || mode == "linear" || mode == "bilinear" else {
            throw ManakoError(.invalidModel, "unknown Upsample mode '\(mode)'")
        }
        return Resize(mode: mode == "nearest" ? .nearest : .linear, coordinates: .asymmetric, nearest: .floor,
                      scalesInput: 1, staticScales: c.opset < 9 ? c.attribute("scales")?.floats : nil)
    },
    "Where": { _ in Where() },
]

/// Reshape with the shape fixed at import (opset < 5).
struct StaticReshape: Operator {
    let shape: [Int]

    func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        return [try x.reshaped(Reshape.resolve(shape, input: x.shape, allowZero: false))]
    }
}

/// The tensor of a Constant node, from whichever value attribute it carries.
func constantValue(_ c: NodeContext) throws -> Tensor {
    if let a = c.attribute("value"), let t = a.t {
        var decoder = c.tensorDecoder()
        return try decoder.decode(t, what: "Constant value")
    }
    if let a = c.attribute("value_float") { return Tensor(scalar: a.f) }
    if let a = c.attribute("value_floats") { return Tensor(shape: [a.floats.count], floats: a.floats) }
    if let a = c.attribute("value_int") { return Tensor(shape: [], int64s: [a.i]) }
    if let a = c.attribute("value_ints") { return Tensor(shape: [a.ints.count], int64s: a.ints) }
    throw ManakoError(.unsupportedOperator, "Constant needs a value, value_float(s) or value_int(s) attribute")
}
