import Foundation

/// A dense, contiguous float32 tensor that records the operations applied to it, so that `backward()`
/// can compute gradients (reverse-mode autograd over reference-type tensors).
///
/// Tensors are immutable in value from the graph's point of view: ops return new tensors. Only
/// optimisers (under `withNoGrad`) and initialisers write into storage in place.
public final class Tensor {
    /// Dimensions, outermost first.
    public let shape: [Int]
    /// Number of elements.
    public let count: Int
    /// The shared buffer. Reshaped tensors share storage with their source.
    public private(set) var storage: TensorStorage
    /// Whether gradients flow to (and accumulate in) this tensor.
    public var requiresGrad: Bool
    /// The accumulated gradient of a leaf tensor after `backward()`.
    public var grad: Tensor?
    /// How this tensor was computed, when it is part of a recorded graph.
    var gradFn: GradFn?

    /// Wraps storage with a shape (no copy).
    public init(storage: TensorStorage, shape: [Int], requiresGrad: Bool = false) {
        self.storage = storage
        self.shape = shape
        self.count = Shape.count(shape)
        self.requiresGrad = requiresGrad
    }

    /// An uninitialised tensor (for kernels that overwrite every element).
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(storage: TensorStorage(count: Shape.count(shape)), shape: shape)
    }

    /// A tensor holding `values` in row-major order.
    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) throws {
        guard values.count == Shape.count(shape) else {
            throw HalluError("Tensor: \(values.count) values do not fill shape \(shape)")
        }
        self.init(uninitializedShape: shape)
        values.withUnsafeBufferPointer { storage.pointer.update(from: $0.baseAddress!, count: values.count) }
        self.requiresGrad = requiresGrad
    }

    /// A rank-1 tensor.
    public convenience init(_ values: [Float]) {
        try! self.init(values, shape: [values.count])
    }

    /// A scalar (rank-0) tensor.
    public convenience init(scalar: Float) {
        self.init(storage: TensorStorage(count: 1, repeating: scalar), shape: [])
    }

    /// Number of dimensions.
    public var rank: Int { shape.count }
    /// Read-only pointer to the first element.
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.pointer }

    /// The elements as an array.
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// The single value of a one-element tensor.
    public var item: Float { data[0] }

    /// Whether this tensor is part of a recorded graph (a leaf that requires grad, or computed from one).
    public var isTracked: Bool { requiresGrad || (gradFn?.isLive ?? false) }

    /// Whether `t` is the only reference to its tensor and that tensor the only holder of its
    /// storage (no reshape or detached copy shares it): then a backward step may write over it.
    static func isSoleHolder(_ t: inout Tensor?) -> Bool {
        guard isKnownUniquelyReferenced(&t), let tensor = t else { return false }
        return isKnownUniquelyReferenced(&tensor.storage)
    }

    /// Puts `newStorage` (of the same element count) behind this tensor, e.g. a checkpoint's
    /// memory-mapped weights in place of the buffer a model was built with.
    func rebind(_ newStorage: TensorStorage) {
        precondition(newStorage.count == count, "rebind: \(newStorage.count) elements for shape \(shape)")
        storage = newStorage
    }

    /// A tensor sharing storage but cut off from the graph.
    public func detach() -> Tensor { Tensor(storage: storage, shape: shape) }

    /// A deep copy, cut off from the graph.
    public func copy() -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        Kernels.copy(data, t.data, count: count)
        return t
    }

    /// Size of one dimension (negative counts from the end).
    public func dim(_ i: Int) -> Int { shape[i < 0 ? i + shape.count : i] }
}

// MARK: - Creation

extension Tensor {
    /// All zeros.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 0, requiresGrad: requiresGrad)
    }

    /// All ones.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) -> Tensor {
        full(shape, 1, requiresGrad: requiresGrad)
    }

    /// Every element `value`.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        Kernels.fill(t.data, value: value, count: t.count)
        t.requiresGrad = requiresGrad
        return t
    }

    /// 0, 1, ..., n-1.
    public static func arange(_ n: Int) -> Tensor {
        let t = Tensor(uninitializedShape: [n])
        for i in 0..<n { t.data[i] = Float(i) }
        return t
    }

    /// Normal(mean, std) samples from a seeded generator (left uninitialised while
    /// `ParameterInit.deferred` is set: the values are about to be loaded).
    public static func randn(_ shape: [Int], std: Float = 1, mean: Float = 0, rng: inout SeededRNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        if ParameterInit.deferred { t.requiresGrad = requiresGrad; return t }
        for i in 0..<t.count { t.data[i] = mean + std * rng.nextNormal() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Uniform(low, high) samples from a seeded generator (left uninitialised while
    /// `ParameterInit.deferred` is set).
    public static func uniform(_ shape: [Int], low: Float = 0, high: Float = 1, rng: inout SeededRNG, requiresGrad: Bool = false) -> Tensor {
        let t = Tensor(uninitializedShape: shape)
        if ParameterInit.deferred { t.requiresGrad = requiresGrad; return t }
        for i in 0..<t.count { t.data[i] = low + (high - low) * rng.nextFloat() }
        t.requiresGrad = requiresGrad
        return t
    }

    /// Overwrites the elements in place (no graph); `values` must have `count` elements.
    public func assign(_ values: [Float]) throws {
        guard values.count == count else { throw HalluError("assign: \(values.count) values for shape \(shape)") }
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    /// Copies another tensor's elements in place (no graph); shapes must have the same element count.
    public func assign(_ other: Tensor) throws {
        guard other.count == count else { throw HalluError("assign: shape \(other.shape) into shape \(shape)") }
        if other.data != data { Kernels.copy(other.data, data, count: count) }
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        let shown = values.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
        return "Tensor(\(shape), [\(shown)\(count > 8 ? ", ..." : "")])"
    }
}

/// Whether random initialisers skip drawing values: a model about to be filled from a checkpoint
/// is built without touching (or paying for) memory its weights will replace.
public enum ParameterInit {
    @TaskLocal public static var deferred = false
}
