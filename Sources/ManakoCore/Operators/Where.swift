import CManakoSIMD

/// Picks x where the condition holds and y elsewhere, all three broadcast (ONNX Where).
public struct Where: Operator {
    public init() {}

    public func run(_ inputs: [Tensor?]) throws -> [Tensor] {
        let condition = try inputs.required(0, "condition"), x = try inputs.required(1, "X"), y = try inputs.required(2, "Y")
        guard condition.elementType == .bool else { throw ManakoError(.shapeMismatch, "condition must be bool, got \(condition.elementType)") }
        guard x.elementType == y.elementType || (x.elementType != .float32 && y.elementType != .float32) else {
            throw ManakoError(.shapeMismatch, "X (\(x.elementType)) and Y (\(y.elementType)) differ in type")
        }
        let shape = try Broadcast.shape(try Broadcast.shape(condition.shape, x.shape), y.shape)
        try ElementLimit.check(shape, "Where output")
        // All three broadcast to the output's shape, then one select per element.
        guard case .bool(let chosen) = condition.broadcast(to: shape).storage else { return [] }
        func select<T>(_ a: [T], _ b: [T]) -> [T] {
            [T].uninitialized(capacity: chosen.count) { out, initialized in
                chosen.withUnsafeBufferPointer { c in
                    a.withUnsafeBufferPointer { x in
                        b.withUnsafeBufferPointer { y in
                            for i in 0..<c.count { (out.baseAddress! + i).initialize(to: c[i] ? x[i] : y[i]) }
                        }
                    }
                }
                initialized = chosen.count
            }
        }
        let (wideX, wideY) = (x.broadcast(to: shape), y.broadcast(to: shape))
        switch (wideX.storage, wideY.storage) {
        case (.float32(let a), .float32(let b)): return [Tensor(shape: shape, floats: selectFloats(chosen, a, b))]
        case (.bool(let a), .bool(let b)): return [Tensor(shape: shape, bools: select(a, b))]
        case (.int32(let a), .int32(let b)): return [try Tensor(shape: shape, storage: .int32(select(a, b)))]
        default: return [Tensor(shape: shape, int64s: select(try wideX.int64s(), try wideY.int64s()))]
        }
    }
}

extension Where: ElementwiseBroadcasting {}

extension Where {
    /// c ? x : y for floats, eight lanes at a time without branches (a mask from random data
    /// would mispredict half the time).
    func selectFloats(_ chosen: [Bool], _ x: [Float], _ y: [Float]) -> [Float] {
        BufferPool.floats(chosen.count) { out in
            chosen.withUnsafeBufferPointer { c in
                x.withUnsafeBufferPointer { a in
                    y.withUnsafeBufferPointer { b in
                        let n = c.count
                        var i = 0
                        while i + 8 <= n {
                            let lanes = mk_select_bytes(c.baseAddress! + i, UnsafeRawPointer(a.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self),
                                                        UnsafeRawPointer(b.baseAddress! + i).loadUnaligned(as: SIMD8<Float>.self))
                            UnsafeMutableRawPointer(out.baseAddress! + i).storeBytes(of: lanes, as: SIMD8<Float>.self)
                            i += 8
                        }
                        while i < n {
                            out[i] = c[i] ? a[i] : b[i]
                            i += 1
                        }
                    }
                }
            }
        }
    }
}
