import Foundation

/// One documented upper limit on a size that comes from input. Its value is `defaultValue` unless
/// the environment variable `variable` holds a positive integer; the error for a size above it names
/// the limit and that variable, so a user with a real need knows how to raise it.
public struct SizeLimit: Sendable {
    /// What is limited, e.g. "image pixels".
    public let name: String
    /// The environment variable that overrides the limit.
    public let variable: String
    public let defaultValue: Int

    public init(_ name: String, variable: String, default value: Int) {
        self.name = name
        self.variable = variable
        self.defaultValue = value
    }

    /// The limit in force.
    public var value: Int {
        if let s = ProcessInfo.processInfo.environment[variable], let v = Int(s.trimmingCharacters(in: .whitespaces)), v > 0 { return v }
        return defaultValue
    }

    /// Throws unless `n <= value`; `what` says where `n` comes from ("photo.png: 20000x20000").
    public func check(_ n: Int, _ what: @autoclosure () -> String) throws {
        try check(n, against: value, what())
    }

    /// Throws unless `n <= limit` (a value in force instead of `value`), with this limit's message.
    public func check(_ n: Int, against limit: Int, _ what: @autoclosure () -> String) throws {
        guard n > limit else { return }
        throw HalluError("\(what()): \(n) is above the limit of \(limit) \(name) (set \(variable) to raise it)")
    }
}

/// The upper limits hallu enforces on sizes from input (docs/RELIABILITY.md lists them).
public enum Limits {
    /// Pixels of a decoded image, and of the square it is padded to. PIL refuses images above twice its
    /// MAX_IMAGE_PIXELS (2 x 89,478,485) as decompression bombs; so does hallu.
    public static let imagePixels = SizeLimit("image pixels", variable: "HALLU_MAX_IMAGE_PIXELS", default: 178_956_970)
    /// Bytes produced by decompressing one gzip/zlib stream (a .gz data file, a PNG's image data).
    public static let decompressedBytes = SizeLimit("decompressed bytes", variable: "HALLU_MAX_DECOMPRESSED_BYTES",
                                                    default: 2 << 30)
    /// Highest token id of a tokenizer (ids index dense tables; real vocabularies stay far below).
    public static let tokenId = SizeLimit("for a token id", variable: "HALLU_MAX_TOKEN_ID", default: (1 << 24) - 1)
    /// Samples per micro-batch (`batch_size`, `--batch-size`).
    public static let batchSize = SizeLimit("samples per batch", variable: "HALLU_MAX_BATCH_SIZE", default: 4096)
    /// LoRA rank (`lora_r`, `r` of adapter_config.json).
    public static let loraRank = SizeLimit("for the LoRA rank", variable: "HALLU_MAX_LORA_RANK", default: 4096)
    /// Beam width of beam search.
    public static let beams = SizeLimit("beams", variable: "HALLU_MAX_BEAMS", default: 64)
    /// New tokens per generation (the model's max_position_embeddings also bounds prompt + new tokens).
    public static let newTokens = SizeLimit("new tokens", variable: "HALLU_MAX_NEW_TOKENS", default: 32_768)
}
