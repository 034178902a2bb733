import Foundation

/// Where tensor buffers of 32 KB and more live: large mappings carved best-fit, with freed
/// blocks merged with their free neighbours and kept for the next step instead of returned to
/// the system.
///
/// Training allocates and frees the same activation sizes every step. In the C heap those
/// buffers sit between small objects (tensor headers, graph steps, closures) that pin the holes
/// between them, so freed space often cannot be reused and the heap keeps growing past what is
/// live; how far depends on which thread freed what last, so the peak moved by megabytes from run
/// to run. Here only tensor buffers share the space, placement depends only on the order of
/// allocations and frees, and the pages touched stay close to the most bytes live at once.
final class TensorArena: @unchecked Sendable {
    static let shared = TensorArena()
    /// Buffers at least this large come from the arena; smaller ones from malloc.
    static let minimumBytes = 32 << 10
    /// Buffers at least this large get a mapping of their own, unmapped when freed.
    static let dedicatedBytes = 32 << 20
    /// Size of each mapping the arena carves (reserved address space; pages count once touched).
    static let segmentBytes = 64 << 20
    static let alignment = 64

    private struct Block { var offset: Int; var size: Int }
    private struct Segment {
        let base: UnsafeMutableRawPointer
        let size: Int
        /// Free blocks in address order, never adjacent (merged on free).
        var free: [Block]
    }

    private var segments: [Segment] = []
    private let lock = NSLock()

    /// `bytes` rounded up to the arena's alignment.
    private static func rounded(_ bytes: Int) -> Int { (bytes + alignment - 1) / alignment * alignment }

    private static func map(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let p = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        return p == UnsafeMutableRawPointer(bitPattern: -1) ? nil : p
    }

    /// A 64-byte aligned block of at least `bytes`, or nil when the system refuses a mapping (the
    /// caller then uses malloc).
    func allocate(_ bytes: Int) -> UnsafeMutableRawPointer? {
        let size = Self.rounded(bytes)
        if size >= Self.dedicatedBytes { return Self.map(size) }
        lock.lock()
        defer { lock.unlock() }
        // Best fit: the smallest free block that holds `size`; the lowest address among equals.
        var best: (segment: Int, block: Int, size: Int)? = nil
        for (s, segment) in segments.enumerated() {
            for (b, block) in segment.free.enumerated() where block.size >= size && block.size < (best?.size ?? .max) {
                best = (s, b, block.size)
                if block.size == size { break }
            }
        }
        if best == nil {
            guard let base = Self.map(Self.segmentBytes) else { return nil }
            segments.append(Segment(base: base, size: Self.segmentBytes, free: [Block(offset: 0, size: Self.segmentBytes)]))
            best = (segments.count - 1, 0, Self.segmentBytes)
        }
        let (s, b, _) = best!
        let block = segments[s].free[b]
        if block.size == size {
            segments[s].free.remove(at: b)
        } else {
            segments[s].free[b] = Block(offset: block.offset + size, size: block.size - size)
        }
        return segments[s].base + block.offset
    }

    /// Returns a block from `allocate(bytes)` (the same `bytes`).
    func free(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        let size = Self.rounded(bytes)
        if size >= Self.dedicatedBytes {
            munmap(pointer, size)
            return
        }
        lock.lock()
        defer { lock.unlock() }
        guard let s = segments.firstIndex(where: { pointer >= $0.base && pointer < $0.base + $0.size }) else {
            preconditionFailure("TensorArena: freeing a pointer it did not allocate")
        }
        let offset = pointer - segments[s].base
        var free = segments[s].free
        // Insert in address order, then merge with the neighbours it touches.
        var lo = 0, hi = free.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if free[mid].offset < offset { lo = mid + 1 } else { hi = mid }
        }
        free.insert(Block(offset: offset, size: size), at: lo)
        if lo + 1 < free.count, free[lo].offset + free[lo].size == free[lo + 1].offset {
            free[lo].size += free[lo + 1].size
            free.remove(at: lo + 1)
        }
        if lo > 0, free[lo - 1].offset + free[lo - 1].size == free[lo].offset {
            free[lo - 1].size += free[lo].size
            free.remove(at: lo)
        }
        segments[s].free = free
    }

    /// Gives the pages of free blocks back to the system (they read as zeros when touched again).
    func trim() {
        lock.lock()
        defer { lock.unlock() }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        for segment in segments {
            for block in segment.free {
                let start = (Int(bitPattern: segment.base) + block.offset + page - 1) / page * page
                let end = (Int(bitPattern: segment.base) + block.offset + block.size) / page * page
                if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
            }
        }
    }

    /// Bytes in free blocks, and the number of free blocks (for tests).
    var freeSpace: (bytes: Int, blocks: Int) {
        lock.lock()
        defer { lock.unlock() }
        return segments.reduce((0, 0)) { acc, s in (acc.0 + s.free.reduce(0) { $0 + $1.size }, acc.1 + s.free.count) }
    }

    /// Bytes of address space the arena has mapped for shared segments.
    var mappedBytes: Int {
        lock.lock()
        defer { lock.unlock() }
        return segments.reduce(0) { $0 + $1.size }
    }
}
