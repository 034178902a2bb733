import CoreRuntime
import Foundation

/// A flag a command accepts, for parsing and for `--help`.
struct Flag {
    let name: String
    let value: String?     // nil for a switch; otherwise a placeholder like "N"
    let help: String
    var defaultText: String? = nil
    var repeats = false
}

/// Parsed command-line arguments: flag values and positionals, with errors for unknown flags
/// that suggest the nearest known one.
struct Arguments {
    var values: [String: [String]] = [:]
    var positionals: [String] = []

    init(_ argv: [String], flags: [Flag], command: String) throws {
        let byName = Dictionary(uniqueKeysWithValues: flags.map { ($0.name, $0) })
        var i = 0
        while i < argv.count {
            let a = argv[i]
            if a == "--" { positionals += argv[(i + 1)...]; break }
            if a.hasPrefix("--") || (a.hasPrefix("-") && a.count == 2 && !a.dropFirst().allSatisfy(\.isNumber)) {
                var name = a.hasPrefix("--") ? String(a.dropFirst(2)) : String(a.dropFirst())
                var inline: String? = nil
                if let eq = name.firstIndex(of: "=") { inline = String(name[name.index(after: eq)...]); name = String(name[..<eq]) }
                guard let flag = byName[name] else {
                    let hint = Suggest.nearest(name, in: Array(byName.keys)).map { " (did you mean --\($0)?)" } ?? ""
                    throw HalluError("hallu \(command): unknown flag --\(name)\(hint). See `hallu \(command) --help`.")
                }
                if flag.value == nil {
                    values[name, default: []].append(inline ?? "true")
                } else {
                    let v: String
                    if let inline { v = inline } else {
                        guard i + 1 < argv.count else { throw HalluError("hallu \(command): --\(name) needs a value (\(flag.value!))") }
                        i += 1
                        v = argv[i]
                    }
                    values[name, default: []].append(v)
                }
            } else {
                positionals.append(a)
            }
            i += 1
        }
    }

    func string(_ name: String) -> String? { values[name]?.last }
    func all(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool { values[name] != nil }
    func int(_ name: String) throws -> Int? {
        guard let s = string(name) else { return nil }
        guard let v = Int(s) else { throw HalluError("--\(name): expected an integer, got \"\(s)\"") }
        return v
    }
    func double(_ name: String) throws -> Double? {
        guard let s = string(name) else { return nil }
        guard let v = Double(s) else { throw HalluError("--\(name): expected a number, got \"\(s)\"") }
        return v
    }
}

/// One `hallu` subcommand.
protocol Command {
    var name: String { get }
    var summary: String { get }
    var usage: String { get }
    var flags: [Flag] { get }
    func run(_ args: Arguments) throws -> Int32
}

extension Command {
    /// The `--help` text: usage, then every flag with its default.
    var help: String {
        var s = "\(summary)\n\nUsage: \(usage)\n"
        if !flags.isEmpty {
            s += "\nFlags:\n"
            for f in flags {
                let left = "  --\(f.name)" + (f.value.map { " \($0)" } ?? "")
                let pad = String(repeating: " ", count: max(2, 30 - left.count))
                s += left + pad + f.help + (f.defaultText.map { " (default: \($0))" } ?? "") + "\n"
            }
        }
        return s + "  --help" + String(repeating: " ", count: 22) + "show this help\n"
    }
}

/// Prints JSON with sorted keys (stable output for scripts).
func printJSON(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    print(String(data: data, encoding: .utf8)!)
}

/// Prints an Encodable as JSON with sorted keys.
func printJSON<T: Encodable>(encodable value: T) throws {
    let enc = JSONEncoder()
    enc.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    print(String(data: try enc.encode(value), encoding: .utf8)!)
}

/// Writes to standard error.
func eprint(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
