import Foundation
import Synchronization

/// How a storage holds its elements.
public enum StorageFormat: String, Sendable {
    /// float32.
    case f32
    /// bfloat16 (the upper half of a float32).
    case bf16
    /// IEEE 754 binary16.
    case f16

    /// Bytes per element.
    public var byteSize: Int { self == .f32 ? 4 : 2 }
}

/// A reference-counted float32 buffer (64-byte aligned when hallu allocates it). Tensors that are
/// reshapes of one another share it.
///
/// Weights loaded from a checkpoint may live elsewhere: float32 elements inside a memory-mapped
/// file (copy-on-write, so in-place updates stay private to the process), or 16-bit elements
/// (`bf16`, `f16`) that matrix products and embedding lookups read directly, widening to float32
/// in registers. Anything else that asks a 16-bit storage for `pointer` gets a float32 copy made
/// on first use, and from then on every reader uses that copy (so in-place updates are seen).
public final class TensorStorage {
    /// Number of elements.
    public let count: Int
    /// How the elements were given (a 16-bit storage stays `bf16`/`f16` after it is widened).
    public let format: StorageFormat
    /// float32 elements, once there are any.
    @exclusivity(unchecked) private var floats: UnsafeMutablePointer<Float>?
    /// The 16-bit elements of a `bf16`/`f16` storage.
    private let halves: UnsafePointer<UInt16>?
    /// Who frees `floats`.
    @exclusivity(unchecked) private var origin: Origin
    /// Keeps the memory of mapped elements valid (the file mapping).
    private let owner: AnyObject?

    private enum Origin { case heap, arena, borrowed }

    /// The float32 elements. Valid for the life of this object. For 16-bit storage, the first call
    /// makes a float32 copy (`count * 4` bytes) that later calls return.
    public var pointer: UnsafeMutablePointer<Float> {
        @inline(__always) get {
            if let f = floats { return f }
            return widened()
        }
    }

    /// The 16-bit elements while they are the current values (nil for float32 storage, and once a
    /// float32 copy exists).
    @inline(__always) public var halfElements: UnsafePointer<UInt16>? { floats == nil ? halves : nil }

    /// Allocates uninitialised storage for `count` floats.
    public init(count: Int) {
        _ = TensorStorage.allocatorTuned
        self.count = count
        format = .f32
        halves = nil
        owner = nil
        let (p, arena) = TensorStorage.allocate(count)
        floats = p
        origin = arena ? .arena : .heap
    }

    /// Allocates storage filled with `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// float32 elements that `owner` keeps valid (e.g. inside a file mapping); nothing is copied.
    /// The memory must be writable (a copy-on-write mapping) if anything may update it in place.
    public init(borrowing elements: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        self.count = count
        format = .f32
        floats = elements
        halves = nil
        origin = .borrowed
        self.owner = owner
    }

    /// 16-bit elements that `owner` keeps valid; nothing is copied.
    public init(borrowingHalves elements: UnsafePointer<UInt16>, count: Int, format: StorageFormat, owner: AnyObject) {
        precondition(format != .f32, "TensorStorage: 16-bit elements need the bf16 or f16 format")
        self.count = count
        self.format = format
        floats = nil
        halves = elements
        origin = .borrowed
        self.owner = owner
    }

    deinit {
        guard let f = floats else { return }
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        switch origin {
        case .arena: TensorArena.shared.free(UnsafeMutableRawPointer(f), bytes: bytes)
        case .heap: free(f)
        case .borrowed: return
        }
        TensorMemory.freed(bytes)
    }

    private static func allocate(_ count: Int) -> (UnsafeMutablePointer<Float>, arena: Bool) {
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var raw: UnsafeMutableRawPointer?
        var arena = false
        if bytes >= TensorArena.minimumBytes, let p = TensorArena.shared.allocate(bytes) {
            raw = p
            arena = true
        } else if posix_memalign(&raw, 64, bytes) != 0 {
            raw = nil
        }
        guard let raw else { fatalError("TensorStorage: out of memory allocating \(bytes) bytes") }
        TensorMemory.allocated(bytes)
        return (raw.bindMemory(to: Float.self, capacity: max(count, 1)), arena)
    }

    private static let widenLock = Mutex(())

    /// The float32 copy of 16-bit elements, made once.
    private func widened() -> UnsafeMutablePointer<Float> {
        TensorStorage.widenLock.withLock { _ in
            if let f = floats { return f }
            let (p, arena) = TensorStorage.allocate(count)
            if let halves { HalfPrecisionKernels.widen(halves, format: format, count: count, into: p) }
            origin = arena ? .arena : .heap
            floats = p
            return p
        }
    }

    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32

    /// Training allocates and frees the same activation sizes every step. By default glibc serves
    /// large blocks with fresh `mmap`s and returns freed memory at once, so every step pays page
    /// faults and zeroing for memory it had a moment ago. Keeping blocks on the heap and not
    /// trimming it makes them reusable; `TensorMemory.releaseFreeMemory` trims between stages. (Tensor
    /// buffers of 32 KB and more come from `TensorArena`, which keeps its blocks the same way.)
    private static let allocatorTuned: Bool = {
        guard let h = dlopen(nil, RTLD_NOW), let f = dlsym(h, "mallopt") else { return false }
        let mallopt = unsafeBitCast(f, to: Mallopt.self)
        let mmapThreshold: Int32 = -3, trimThreshold: Int32 = -1
        _ = mallopt(mmapThreshold, 32 << 20)  // glibc's largest allowed value
        _ = mallopt(trimThreshold, Int32.max)
        return true
    }()
}

/// The bytes held by tensor storage: now, and the most at once since `resetPeak()`. This is the
/// memory a step's tensors need; the process's resident set adds the allocator's free lists,
/// code, the runtime and the BLAS library's buffers.
public enum TensorMemory {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    /// Bytes held by live tensor storage.
    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    /// The most bytes held at once since the last `resetPeak()`.
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }
    /// Restarts the peak at the current live bytes.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    static func allocated(_ bytes: Int) {
        let now = live.add(bytes, ordering: .relaxed).newValue
        peak.max(now, ordering: .relaxed)
    }

    static func freed(_ bytes: Int) { live.subtract(bytes, ordering: .relaxed) }

    /// Gives free memory back to the system: the tensor arena's free blocks and the C heap's free
    /// pages. Called where a training stage starts and ends, so that what loading its data freed
    /// and what its steps freed do not stay resident beside the next thing that runs.
    public static func releaseFreeMemory() {
        TensorArena.shared.trim()
        _ = mallocTrim?(0)
    }

    private typealias MallocTrim = @convention(c) (Int) -> Int32
    /// glibc's `malloc_trim`, looked up at run time (not every C library has it).
    private static let mallocTrim: MallocTrim? = {
        guard let h = dlopen(nil, RTLD_NOW), let f = dlsym(h, "malloc_trim") else { return nil }
        return unsafeBitCast(f, to: MallocTrim.self)
    }()
}
