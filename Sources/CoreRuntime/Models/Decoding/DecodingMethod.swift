import Foundation

/// A decoding-time method chosen with `--decode NAME` (a decoding plugin's, or one of your own):
/// a decoding hook with a name, options (set with `--set NAME.key=value`) and a summary for
/// `hallu plugins`. `configure` validates every option and names the key of a bad value.
public protocol DecodingMethod: DecodingHook {
    var id: String { get }
    var summary: String { get }
    var options: [MethodOption] { get }
    /// Receives option overrides (unknown names are an error listing the known ones).
    func configure(_ values: [String: String]) throws
}

extension DecodingMethod {
    public var name: String { id }
}

/// How a plugin announces a decoding method.
public final class DecoderDescriptor {
    public let id: String
    public let summary: String
    public let make: () -> DecodingMethod
    public init(id: String, summary: String, make: @escaping () -> DecodingMethod) {
        self.id = id; self.summary = summary; self.make = make
    }
}

extension PluginRegistry {
    /// Every decoding method the loaded plugins provide, in load order.
    public var decoderDescriptors: [DecoderDescriptor] { plugins.flatMap(\.decoders) }

    /// A fresh decoding method by id, configured with `options`, or an error listing the known ids.
    public func makeDecoder(_ id: String, options: [String: String] = [:]) throws -> DecodingMethod {
        guard let d = decoderDescriptors.first(where: { $0.id == id }) else {
            let known = decoderDescriptors.map(\.id)
            let hint = Suggest.nearest(id, in: known).map { " Did you mean \"\($0)\"?" } ?? ""
            throw HalluError("unknown decoding method \"\(id)\".\(hint) Available: \(known.isEmpty ? "none" : known.joined(separator: ", ")). Decoding plugins are searched next to the hallu executable and in $HALLU_PLUGIN_PATH, or pass --plugin PATH.")
        }
        let m = d.make()
        try m.configure(options)
        return m
    }

    /// Which library provides a decoding method.
    public func library(ofDecoder id: String) -> String? { plugins.first { $0.decoders.contains { $0.id == id } }?.library }
}
