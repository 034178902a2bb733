import Foundation

/// A dense row-major float32 array in host memory: the exchange format between checkpoint files
/// and the rest of the runtime. It carries no autograd or device state on purpose, so readers and
/// writers of weights do not depend on the tensor implementation.
public struct HostArray: Equatable, Sendable {
    /// Dimensions, outermost first. An empty shape is a scalar holding one value.
    public var shape: [Int]
    /// `shape.product` values in row-major order.
    public var values: [Float]

    /// Wraps values without checking them; use `validated(name:)` where the shape comes from input.
    public init(shape: [Int], values: [Float]) {
        self.shape = shape
        self.values = values
    }

    /// A zero-filled array.
    public static func zeros(_ shape: [Int]) -> HostArray {
        HostArray(shape: shape, values: [Float](repeating: 0, count: HostArray.elementCount(shape) ?? 0))
    }

    /// The number of elements the shape describes.
    public var elementCount: Int { shape.reduce(1, *) }

    /// Throws unless every dimension is non-negative and the value count matches the shape.
    public func validate(name: String, file: String) throws {
        guard let n = HostArray.elementCount(shape) else {
            throw HalluError.file(file, "tensor \"\(name)\": invalid shape \(shape)")
        }
        guard n == values.count else {
            throw HalluError.file(file, "tensor \"\(name)\": shape \(shape) needs \(n) values, has \(values.count)")
        }
    }

    /// The product of the dimensions, or nil for a negative dimension or an overflowing product.
    static func elementCount(_ shape: [Int]) -> Int? { CheckedSize.product(shape) }
}
