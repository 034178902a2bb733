import Foundation

/// The one error type hallu raises for bad input. Its message always names what was wrong and where
/// (file, line, key, or both shapes of a mismatch), so a user can fix the input without a debugger.
public struct HalluError: Error, CustomStringConvertible, Equatable {
    /// A complete, human-readable explanation.
    public let message: String

    public init(_ message: String) { self.message = message }

    /// An error located in a file, optionally at a 1-based line.
    public static func file(_ path: String, line: Int? = nil, _ problem: String) -> HalluError {
        if let line { return HalluError("\(path):\(line): \(problem)") }
        return HalluError("\(path): \(problem)")
    }

    /// A required key absent from a record.
    public static func missingKey(_ key: String, in path: String, line: Int? = nil) -> HalluError {
        .file(path, line: line, "missing required key \"\(key)\"")
    }

    public var description: String { message }
}
