import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One tensor's entry in a safetensors header.
public struct SafeTensorsEntry: Equatable, Sendable {
    public let name: String
    public let dtype: SafeTensorsDType
    public let shape: [Int]
    /// Byte range inside the data section (after the 8-byte length and the header).
    public let begin: Int
    public let end: Int
}

/// A safetensors file opened for reading: the header is parsed and checked once, the data section
/// stays memory-mapped, and each tensor is converted to float32 only when asked for.
///
/// Layout: an 8-byte little-endian header length N, N bytes of JSON
/// (`{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {String: String}}`),
/// then the data section that the offsets index.
public final class SafeTensorsFile {
    /// The path as given, used in every error message.
    public let path: String
    /// Free-form string metadata (`__metadata__`), e.g. `{"format": "pt"}`.
    public let metadata: [String: String]
    /// Entries by tensor name.
    public let entries: [String: SafeTensorsEntry]
    private let mapping: MappedFile
    private let dataStart: Int

    /// The reference library refuses headers above 100 MB; so do we, rather than allocating blindly.
    static let maxHeaderBytes = 100_000_000

    /// Opens and validates `path`. Throws a `HalluError` naming the file for any structural problem.
    public init(path: String) throws {
        self.path = path
        mapping = try MappedFile(path: path)
        let size = mapping.count
        guard size >= 8 else {
            throw HalluError.file(path, "not a safetensors file: \(size) bytes, shorter than the 8-byte header length")
        }
        let headerLength = mapping.withBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(size - 8) else {
            throw HalluError.file(path, "header length \(headerLength) is larger than the file (\(size - 8) bytes after the length)")
        }
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw HalluError.file(path, "header length \(headerLength) is larger than the 100 MB limit")
        }
        let n = Int(headerLength)
        dataStart = 8 + n
        let headerData = mapping.withBytes { Data($0[8..<(8 + n)]) }
        let header = try SafeTensorsHeader.parse(headerData, path: path)
        metadata = header.metadata
        entries = try SafeTensorsHeader.validate(header.tensors, dataLength: size - dataStart, path: path)
    }

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Shapes by name, without reading any data.
    public var shapes: [String: [Int]] { entries.mapValues(\.shape) }

    /// Reads one tensor, converting its elements to float32.
    public func array(_ name: String) throws -> HostArray {
        guard let e = entries[name] else {
            throw HalluError.file(path, "no tensor named \"\(name)\"")
        }
        let count = e.shape.reduce(1, *)
        let values = mapping.withBytes { raw -> [Float] in
            let bytes = UnsafeRawBufferPointer(rebasing: raw[(dataStart + e.begin)..<(dataStart + e.end)])
            return SafeTensorsConvert.toFloat(bytes, dtype: e.dtype, count: count)
        }
        return HostArray(shape: e.shape, values: values)
    }

    /// The first byte of a tensor's elements inside the mapping, valid while this object lives.
    /// The mapping is copy-on-write: writes through it stay private to the process.
    func elements(_ e: SafeTensorsEntry) -> UnsafeMutableRawPointer? {
        mapping.base.map { $0 + dataStart + e.begin }
    }

    /// Makes every page of the file resident in this process's page tables now (read-only, from
    /// the page cache), so that the first pass over the weights does not take the page faults.
    func prefault() { mapping.prefault() }

    /// Reads every tensor.
    public func arrays() throws -> [String: HostArray] {
        var out: [String: HostArray] = [:]
        out.reserveCapacity(entries.count)
        for name in entries.keys { out[name] = try array(name) }
        return out
    }
}

/// Entry points for whole-file reads and writes.
public enum SafeTensors {
    /// Reads every tensor of one file as float32.
    public static func read(_ path: String) throws -> [String: HostArray] {
        try SafeTensorsFile(path: path).arrays()
    }

    /// Reads only the shapes of one file.
    public static func shapes(_ path: String) throws -> [String: [Int]] {
        try SafeTensorsFile(path: path).shapes
    }
}

/// Raw element conversion to float32.
enum SafeTensorsConvert {
    static func toFloat(_ bytes: UnsafeRawBufferPointer, dtype: SafeTensorsDType, count: Int) -> [Float] {
        if count == 0 { return [] }
        return [Float](unsafeUninitializedCapacity: count) { out, initialized in
            switch dtype {
            case .F32:
                // The host is little-endian (x86-64, arm64), like the format; memcpy handles alignment.
                memcpy(out.baseAddress!, bytes.baseAddress!, count * 4)
            case .F16:
                for i in 0..<count { out[i] = HalfPrecision.float(fromHalf: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .BF16:
                for i in 0..<count { out[i] = HalfPrecision.float(fromBFloat16: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .F64:
                for i in 0..<count { out[i] = Float(Double(bitPattern: UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            case .I64:
                for i in 0..<count { out[i] = Float(Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .I32:
                for i in 0..<count { out[i] = Float(Int32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .I16:
                for i in 0..<count { out[i] = Float(Int16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .I8:
                for i in 0..<count { out[i] = Float(bytes.load(fromByteOffset: i, as: Int8.self)) }
            case .U8:
                for i in 0..<count { out[i] = Float(bytes[i]) }
            case .BOOL:
                for i in 0..<count { out[i] = bytes[i] != 0 ? 1 : 0 }
            }
            initialized = count
        }
    }
}

/// A memory mapping of a whole file, unmapped when released. It is private and copy-on-write:
/// float32 weights used in place may be updated by an optimiser without touching the file.
final class MappedFile {
    let count: Int
    let base: UnsafeMutableRawPointer?

    init(path: String) throws {
        let (fd, size) = try InputFile.openRegular(path)
        defer { close(fd) }
        count = size
        if count == 0 {
            base = nil
            return
        }
        guard let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw HalluError.file(path, "could not map into memory (\(InputFile.describe(errno: errno)))")
        }
        base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    /// Populates the page tables read-only (MADV_POPULATE_READ, Linux 5.14 and later; else one
    /// read per page). A write fault would copy the page, so this never writes.
    func prefault() {
        guard let base, count > 0 else { return }
        let populateRead: Int32 = 22
        if madvise(base, count, populateRead) == 0 { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let bytes = UnsafeRawPointer(base)
        Parallel.forEach(count: (count + page - 1) / page, minChunk: 256) { r in
            var sum: UInt8 = 0
            for i in r { sum &+= bytes.load(fromByteOffset: i * page, as: UInt8.self) }
            withExtendedLifetime(sum) {}
        }
    }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }
}
