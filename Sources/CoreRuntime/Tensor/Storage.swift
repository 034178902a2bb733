import Foundation

/// A reference-counted, 64-byte aligned float32 buffer. Tensors that are reshapes of one another share it.
public final class TensorStorage {
    /// Number of floats.
    public let count: Int
    /// The first float. Valid for the life of this object.
    public let pointer: UnsafeMutablePointer<Float>

    /// Allocates uninitialised storage for `count` floats.
    public init(count: Int) {
        self.count = count
        let bytes = max(count, 1) * MemoryLayout<Float>.stride
        var raw: UnsafeMutableRawPointer?
        posix_memalign(&raw, 64, bytes)
        pointer = raw!.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    /// Allocates storage filled with `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit { free(pointer) }
}
