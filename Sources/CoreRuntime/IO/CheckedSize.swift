import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Size arithmetic for sizes that come from input (image headers, tensor shapes, config.json,
/// tokenizer tables, checkpoint headers).
///
/// CoreRuntime is built with `-Ounchecked`, where an overflowing `*` or `+` wraps silently and an
/// array index is not checked: a wrapped size becomes a small allocation that later code writes
/// past. Every size derived from input goes through these functions, which throw a `HalluError`
/// naming what was being sized instead of wrapping.
public enum CheckedSize {
    /// `a * b`, or an error naming `what` when either is negative or the product does not fit an `Int`.
    @inline(__always)
    public static func multiply(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard a >= 0, b >= 0 else { throw HalluError("\(what()): negative size (\(a) x \(b))") }
        let (p, overflow) = a.multipliedReportingOverflow(by: b)
        guard !overflow else { throw HalluError("\(what()): \(a) x \(b) is too large to represent") }
        return p
    }

    /// `a + b`, or an error naming `what` when either is negative or the sum does not fit an `Int`.
    @inline(__always)
    public static func add(_ a: Int, _ b: Int, _ what: @autoclosure () -> String) throws -> Int {
        guard a >= 0, b >= 0 else { throw HalluError("\(what()): negative size (\(a) + \(b))") }
        let (s, overflow) = a.addingReportingOverflow(b)
        guard !overflow else { throw HalluError("\(what()): \(a) + \(b) is too large to represent") }
        return s
    }

    /// The product of `dims` (1 for none), or an error naming `what` for a negative dimension or an
    /// overflowing product.
    public static func product(_ dims: [Int], _ what: @autoclosure () -> String) throws -> Int {
        var n = 1
        for d in dims {
            guard d >= 0 else { throw HalluError("\(what()): shape \(dims) has a negative dimension") }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            guard !overflow else { throw HalluError("\(what()): shape \(dims) has too many elements to represent") }
            n = p
        }
        return n
    }

    /// The product of `dims`, or nil for a negative dimension or an overflowing product.
    public static func product(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, overflow) = n.multipliedReportingOverflow(by: d)
            if overflow { return nil }
            n = p
        }
        return n
    }

    /// An `Int` from a `Double` read from input, or nil when it is not a whole number in range
    /// (`Int(_: Double)` traps on those, and under `-Ounchecked` does not even trap).
    public static func integer(_ d: Double) -> Int? {
        guard d.isFinite, d == d.rounded(), d >= -9.2e18, d <= 9.2e18 else { return nil }
        return Int(exactly: d)
    }
}

/// Memory the host can give, checked before a large allocation whose size comes from input.
///
/// Swift aborts the process when `malloc` fails inside an array allocation, and Linux overcommits
/// memory, so an allocation far beyond RAM may "succeed" and then be killed when touched. A size
/// from input is therefore compared with the machine's memory first, and the error names what was
/// being allocated.
public enum HostMemory {
    /// Physical memory in bytes (sysconf), or `Int.max` when unknown.
    public static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return Int.max }
        return pages.multipliedReportingOverflow(by: size).overflow ? Int.max : pages * size
    }()

    /// Throws unless `bytes` can be allocated: not above physical memory, and `malloc` agrees.
    /// `what` names the allocation ("pixels of photo.png (20000x20000)").
    public static func check(bytes: Int, _ what: @autoclosure () -> String) throws {
        guard bytes >= 0 else { throw HalluError("\(what()): negative size \(bytes)") }
        if bytes < 1 << 24 { return }  // small: not worth a probe
        guard bytes <= physicalBytes else {
            throw HalluError("\(what()) needs \(format(bytes)), more than this machine's \(format(physicalBytes)) of memory")
        }
        guard let probe = malloc(bytes) else {
            throw HalluError("\(what()): could not allocate \(format(bytes)) (out of memory)")
        }
        free(probe)
    }

    /// `count` elements of `elementSize` bytes: the checked byte count, after `check`.
    @discardableResult
    public static func check(count: Int, elementSize: Int, _ what: @autoclosure () -> String) throws -> Int {
        let bytes = try CheckedSize.multiply(count, elementSize, what())
        try check(bytes: bytes, what())
        return bytes
    }

    /// "12.9 GB", "300 MB", "512 KB", "17 bytes".
    public static func format(_ bytes: Int) -> String {
        let b = Double(bytes)
        if b >= 1e9 { return String(format: "%.1f GB", b / 1e9) }
        if b >= 1e6 { return String(format: "%.0f MB", b / 1e6) }
        if b >= 1e3 { return String(format: "%.0f KB", b / 1e3) }
        return "\(bytes) bytes"
    }
}
