import Foundation

/// FNV-1a, 64-bit: the same value in every process and on every machine, unlike `hashValue`.
/// Cache keys, the seeds of data streams, sweep cell ids and file digests are made with it.
public struct StableHash {
    public private(set) var value: UInt64 = 0xCBF2_9CE4_8422_2325

    public init() {}

    /// One byte.
    public mutating func add(_ byte: UInt8) { value = (value ^ UInt64(byte)) &* 0x100_0000_01B3 }

    /// Bytes in order.
    public mutating func add<S: Sequence>(bytes: S) where S.Element == UInt8 { for b in bytes { add(b) } }

    /// A whole word, mixed further so that words that differ only in high bits still spread.
    public mutating func add(_ word: UInt64) { value = (value ^ word) &* 0x100_0000_01B3; value ^= value >> 29 }

    /// A string's bytes followed by its length, so that ("ab", "c") and ("a", "bc") differ.
    public mutating func add(_ s: String) { add(bytes: s.utf8); add(UInt64(s.utf8.count)) }

    /// The value as 16 hex digits.
    public var hex: String { String(format: "%016llx", value) }

    /// FNV-1a of the bytes alone.
    public static func of<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h = StableHash()
        h.add(bytes: bytes)
        return h.value
    }
}

extension String {
    /// FNV-1a of the UTF-8 bytes (`StableHash.of`).
    var hashValueStable: UInt64 { StableHash.of(utf8) }
}
