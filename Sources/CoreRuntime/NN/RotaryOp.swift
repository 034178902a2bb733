import Foundation
import Synchronization

/// Rotary position embedding in the Hugging Face Llama convention ("rotate half": element i pairs
/// with element i + D/2), through `Kernels.rotaryForward`.
extension Tensor {
    /// Positions precomputed in each shared table; later positions are computed on the fly.
    static let ropeTablePositions = 4096

    private static let ropeTables = Mutex([String: Kernels.RotaryTable]())

    /// The shared cos/sin table of a head width and base.
    static func ropeTable(dim: Int, theta: Float) throws -> Kernels.RotaryTable {
        let key = "\(dim)/\(theta.bitPattern)"
        if let t = ropeTables.withLock({ $0[key] }) { return t }
        let table = try Kernels.RotaryTable(headDim: dim, theta: theta, maxPositions: ropeTablePositions)
        return ropeTables.withLock { tables in
            if let t = tables[key] { return t }
            tables[key] = table
            return table
        }
    }

    /// Rotates `x`, laid out as `[B, H, T, D]` (default) or `[B, T, H, D]` (`layout: .bthd`, the
    /// projections' own layout); `positions` has T entries (shared by the batch) or B*T entries.
    public static func rope(_ x: Tensor, positions: [Int], theta: Float, layout: Kernels.HeadLayout = .bhtd) throws -> Tensor {
        guard x.rank == 4, x.shape[3] % 2 == 0 else { throw HalluError("rope: expected a rank-4 input with even D, got \(x.shape)") }
        let (b, h, t, d) = layout == .bhtd ? (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
                                           : (x.shape[0], x.shape[2], x.shape[1], x.shape[3])
        guard positions.count == t || positions.count == b * t else {
            throw HalluError("rope: \(positions.count) positions for input \(x.shape)")
        }
        let table = try ropeTable(dim: d, theta: theta)
        var pos = [Int32](repeating: 0, count: b * t)
        for i in 0..<(b * t) {
            let p = positions.count == t ? positions[i % t] : positions[i]
            guard p >= 0 && p <= Int(Int32.max) else { throw HalluError("rope: position \(p) out of range") }
            pos[i] = Int32(p)
        }
        let out = Tensor(uninitializedShape: x.shape)
        pos.withUnsafeBufferPointer { p in
            Kernels.rotaryForward(x: x.data, y: out.data, table: table, positions: p.baseAddress!, batch: b, heads: h, seq: t, layout: layout)
        }
        guard recording(x) else { return out }
        let shape = x.shape
        out.gradFn = GradFn("rope", [x]) { g in
            let gi = Tensor(uninitializedShape: shape)
            pos.withUnsafeBufferPointer { p in
                Kernels.rotaryBackward(dy: g.data, dx: gi.data, table: table, positions: p.baseAddress!, batch: b, heads: h, seq: t, layout: layout)
            }
            return [gi]
        }
        return out
    }
}
