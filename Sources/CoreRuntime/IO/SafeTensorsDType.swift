import Foundation

/// The safetensors element types hallu reads. Every one is converted to float32 on load (integers
/// beyond 2^24 and F64 values lose precision); only F32, F16 and BF16 can be written.
public enum SafeTensorsDType: String, CaseIterable, Sendable {
    case F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL

    /// Bytes per element in the file.
    public var byteSize: Int {
        switch self {
        case .F64, .I64: return 8
        case .F32, .I32: return 4
        case .F16, .BF16, .I16: return 2
        case .I8, .U8, .BOOL: return 1
        }
    }

    /// Whether `SafeTensors.write` can store arrays in this type.
    public var isWritable: Bool { self == .F32 || self == .F16 || self == .BF16 }

    /// Position in the reference library's dtype enumeration. Its writer lays tensors out by
    /// descending rank, then by name; following it makes our files byte-identical to its files.
    var layoutRank: Int {
        switch self {
        case .BOOL: return 0
        case .U8: return 4
        case .I8: return 5
        case .I16: return 9
        case .F16: return 11
        case .BF16: return 12
        case .I32: return 13
        case .F32: return 15
        case .F64: return 17
        case .I64: return 18
        }
    }
}

/// Conversions between float32 and the 16-bit float formats, rounding to nearest-even as PyTorch does.
public enum HalfPrecision {
    /// IEEE 754 binary16 bits to float32 (exact; NaN payloads kept).
    @inline(__always)
    public static func float(fromHalf h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            // Zero or subnormal: mant * 2^-24 is exact in float32.
            let magnitude = Float(mant) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        if exp == 0x1F {
            return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }

    /// float32 to IEEE 754 binary16 bits, round-to-nearest-even, overflow to infinity, NaN as 0x7E00.
    @inline(__always)
    public static func half(from f: Float) -> UInt16 {
        let bits = f.bitPattern
        let sign = UInt16((bits >> 16) & 0x8000)
        let x = bits & 0x7FFF_FFFF
        if x > 0x7F80_0000 { return sign | 0x7E00 }
        if x >= 0x477F_F000 { return sign | 0x7C00 }  // >= 65520 rounds past the largest half
        if x < 0x3880_0000 {
            // Below the smallest normal half: the result is a multiple of 2^-24. Scaling by a power
            // of two is exact, and a carry to 1024 is exactly the encoding of the smallest normal.
            let scaled = Float(bitPattern: x) * 0x1p24
            return sign | UInt16(scaled.rounded(.toNearestOrEven))
        }
        let exp = (x >> 23) - 112
        let mant = x & 0x7F_FFFF
        var h = (exp << 10) | (mant >> 13)
        let rest = mant & 0x1FFF
        if rest > 0x1000 || (rest == 0x1000 && (h & 1) == 1) { h += 1 }
        return sign | UInt16(h)
    }

    /// bfloat16 bits to float32 (exact).
    @inline(__always)
    public static func float(fromBFloat16 b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }

    /// float32 to bfloat16 bits, round-to-nearest-even; a NaN stays a quiet NaN of the same sign.
    @inline(__always)
    public static func bfloat16(from f: Float) -> UInt16 {
        if f.isNaN { return UInt16(truncatingIfNeeded: f.bitPattern >> 16) | 0x0040 }
        let bits = f.bitPattern
        let bias = ((bits >> 16) & 1) + 0x7FFF
        return UInt16(truncatingIfNeeded: (bits &+ bias) >> 16)
    }
}
