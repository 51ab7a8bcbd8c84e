/// Pads a tensor (ONNX Pad) in constant, reflect or edge mode. Pads are
/// [begin_0, ..., begin_n, end_0, ..., end_n], from input 1 (opset 11+) or `staticPads`;
/// negative pads crop. Input 3, when given, lists the axes the pads apply to.
public struct Pad: Operator {
    public enum Mode: String, Sendable { case constant, reflect, edge, wrap }

    public var mode: Mode
    public var staticPads: [Int]?
    public var staticValue: Float

    public init(mode: Mode = .constant, staticPads: [Int]? = nil, staticValue: Float = 0) {
        self.mode = mode
        self.staticPads = staticPads
        self.staticValue = staticValue
    }

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let x = try inputs.required(0, "data")
        let rank = x.rank
        var pads: [Int]
        if let p = inputs.optional(1) { pads = try p.int64s().map { Int($0) } } else if let s = staticPads { pads = s } else {
            throw ManakoError(.invalidModel, "Pad has no pads")
        }
        if let axesTensor = inputs.optional(3) {
            let axes = try axesTensor.int64s().map { try normalizedAxis(Int($0), rank: rank) }
            guard pads.count == 2 * axes.count else { throw ManakoError(.shapeMismatch, "pads \(pads) do not match axes \(axes)") }
            var full = [Int](repeating: 0, count: 2 * rank)
            for (i, a) in axes.enumerated() { full[a] = pads[i]; full[rank + a] = pads[axes.count + i] }
            pads = full
        }
        guard pads.count == 2 * rank else { throw ManakoError(.shapeMismatch, "pads \(pads) must have \(2 * rank) entries for input \(x.shape)") }
        var value = staticValue
        if let v = inputs.optional(2) {
            let f = try v.floats()
            guard f.count == 1 else { throw ManakoError(.shapeMismatch, "constant_value must be a scalar") }
            value = f[0]
        }
        guard pads.allSatisfy({ $0 > -(1 << 40) && $0 < 1 << 40 }) else {
            throw ManakoError(.limitExceeded, "pads \(pads) are beyond any tensor size")
        }
        var outShape = x.shape
        for d in 0..<rank {
            outShape[d] += pads[d] + pads[rank + d]
            guard outShape[d] >= 0 else { throw ManakoError(.shapeMismatch, "pads \(pads) crop input \(x.shape) below zero") }
            if mode != .constant && x.shape[d] == 0 && outShape[d] > 0 {
                throw ManakoError(.shapeMismatch, "\(mode.rawValue) padding needs a non-empty axis \(d)")
            }
            if mode == .reflect && x.shape[d] == 1 && (pads[d] > 0 || pads[rank + d] > 0) {
                throw ManakoError(.shapeMismatch, "reflect padding needs at least 2 elements on axis \(d)")
            }
        }
        try ElementLimit.check(outShape, "Pad output")
        if mode == .constant && pads.allSatisfy({ $0 >= 0 }), case .float32(let data) = x.storage {
            return [Pad.constantRows(data, x.shape, outShape, pads, value)]
        }
        // General path, any element type: the source index of every output element, where
        // x.count stands for the constant, appended to the data before picking.
        let fill = try Cast(to: x.elementType).run([Tensor(shape: [1], floats: [value])])[0]
        let source = try Concat(axis: 0).run([x.reshaped([x.count]), fill])[0]
        let inStrides = Tensor.strides(x.shape)
        var indices: [Int] = []
        indices.reserveCapacity(outShape.reduce(1, *))
        Tensor.forEachIndex(outShape) { index in
            var src = 0
            for d in 0..<rank {
                var i = index[d] - pads[d]
                let n = x.shape[d]
                if i < 0 || i >= n {
                    switch mode {
                    case .constant: src = -1
                    case .edge: i = i < 0 ? 0 : n - 1
                    case .wrap: i = ((i % n) + n) % n
                    case .reflect:
                        let period = 2 * (n - 1)
                        i = ((i % period) + period) % period
                        if i >= n { i = period - i }
                    }
                }
                if src < 0 { break }
                src += i * inStrides[d]
            }
            indices.append(src < 0 ? x.count : src)
        }
        return [source.picking(indices, shape: outShape)]
    }

    /// Constant padding without cropping: fill with the value, then copy whole innermost rows.
    static func constantRows(_ data: [Float], _ shape: [Int], _ outShape: [Int], _ pads: [Int], _ value: Float) -> Tensor {
        let rank = shape.count
        var out = [Float](repeating: value, count: outShape.reduce(1, *))
        guard rank > 0, !data.isEmpty else {
            if rank == 0 { out = data }
            return Tensor(shape: outShape, floats: out)
        }
        let rowLength = shape[rank - 1]
        let outStrides = Tensor.strides(outShape)
        let rows = data.count / rowLength
        var index = [Int](repeating: 0, count: rank - 1)
        data.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for row in 0..<rows {
                    var offset = pads[rank - 1]
                    for d in 0..<(rank - 1) { offset += (index[d] + pads[d]) * outStrides[d] }
                    (dst.baseAddress! + offset).update(from: src.baseAddress! + row * rowLength, count: rowLength)
                    var d = rank - 2
                    while d >= 0 {
                        index[d] += 1
                        if index[d] < shape[d] { break }
                        index[d] = 0
                        d -= 1
                    }
                }
            }
        }
        return Tensor(shape: outShape, floats: out)
    }
}
