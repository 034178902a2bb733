import CoreRuntime
import Foundation

/// `--half-products widened|bf16-dot`, as `hallu generate` and `hallu eval model` take it: how
/// products with bfloat16 weights treat their activations (`HalfProducts`).
enum HalfProductsFlag {
    static let flag = Flag(name: "half-products", value: "MODE",
                           help: "bfloat16 weights: widened (float32 products) or bf16-dot (activations rounded to bfloat16, "
                               + "the CPU's dot product; needs AVX-512 BF16)", defaultText: "widened")

    /// Sets the process's mode from the flag; refuses an unknown mode and bf16-dot on a CPU without it.
    static func apply(_ args: Arguments) throws {
        guard let value = args.string("half-products") else { return }
        guard let mode = HalfProducts(rawValue: value) else {
            throw HalluError("--half-products: expected one of \(HalfProducts.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(value)\"")
        }
        if mode == .bf16Dot && !Kernels.hasBF16Dot {
            throw HalluError("--half-products bf16-dot: this CPU has no bfloat16 dot product (AVX-512 BF16); use widened")
        }
        Kernels.halfProducts = mode
    }
}
