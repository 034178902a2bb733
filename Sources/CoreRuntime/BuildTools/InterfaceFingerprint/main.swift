import Foundation

// interface-fingerprint core|client CORE_DIR OUTPUT.swift LISTING.txt SOURCE.swift...
//
// Lists what a plugin compiled against CoreRuntime depends on, and hashes it:
// - every public or open declaration (types, members, cases, typealiases, operators), with its
//   full signature and default arguments, and every member of a public extension or protocol;
// - every stored-property declaration of a public type, whatever its access (the layout a plugin's
//   code was compiled with), and every member of a public class that is not final (its vtable);
// - declarations marked @inlinable, @usableFromInline or @_alwaysEmitIntoClient.
// Comments, white space, string literals, bodies and private helpers of non-public types do not
// count. Files are read in path order, declarations in file order (member order is layout order).
// For CoreRuntime itself ("core") the output declares `PluginABI.host`; for a module that depends on
// it ("client", a plugin's entry module) `halluInterfaceFingerprint`, the value the plugin returns
// from `hallu_plugin_abi`.

enum Token: Equatable {
    case word(String)
    case punct(Character)
    case string
    case newline
}

/// Splits Swift source into words, punctuation, string placeholders and line breaks, dropping
/// comments and the contents of string literals (interpolations included).
func tokenize(_ text: String) -> [Token] {
    let c = Array(text.unicodeScalars)
    var out: [Token] = []
    var i = 0
    func isWordStart(_ s: Unicode.Scalar) -> Bool { s == "_" || s == "$" || CharacterSet.letters.contains(s) || CharacterSet.decimalDigits.contains(s) }
    /// Skips a string literal starting at `i` (at its first quote, after any `#`s); returns the index after it.
    func skipString(_ start: Int, hashes: Int) -> Int {
        var j = start
        let triple = j + 2 < c.count && c[j] == "\"" && c[j + 1] == "\"" && c[j + 2] == "\""
        j += triple ? 3 : 1
        while j < c.count {
            if c[j] == "\\" {
                // An escape only counts with the literal's number of #s after the backslash.
                var k = j + 1, h = 0
                while k < c.count && c[k] == "#" && h < hashes { h += 1; k += 1 }
                if h == hashes && k < c.count {
                    if c[k] == "(" {
                        // Interpolation: skip to the matching parenthesis, minding nested strings.
                        var depth = 1
                        k += 1
                        while k < c.count && depth > 0 {
                            if c[k] == "\"" { k = skipString(k, hashes: 0); continue }
                            if c[k] == "(" { depth += 1 } else if c[k] == ")" { depth -= 1 }
                            k += 1
                        }
                        j = k
                        continue
                    }
                    j = k + 1
                    continue
                }
                j += 1
                continue
            }
            if c[j] == "\"" {
                let closes = triple ? (j + 2 < c.count && c[j + 1] == "\"" && c[j + 2] == "\"") : true
                if closes {
                    var k = j + (triple ? 3 : 1), h = 0
                    while k < c.count && c[k] == "#" && h < hashes { h += 1; k += 1 }
                    if h == hashes { return k }
                }
            }
            if !triple && c[j] == "\n" { return j }   // unterminated: stop at the line end
            j += 1
        }
        return j
    }
    while i < c.count {
        let s = c[i]
        if s == "\n" { out.append(.newline); i += 1; continue }
        if s == " " || s == "\t" || s == "\r" { i += 1; continue }
        if s == "/" && i + 1 < c.count && c[i + 1] == "/" {
            while i < c.count && c[i] != "\n" { i += 1 }
            continue
        }
        if s == "/" && i + 1 < c.count && c[i + 1] == "*" {
            var depth = 1
            i += 2
            while i < c.count && depth > 0 {
                if c[i] == "/" && i + 1 < c.count && c[i + 1] == "*" { depth += 1; i += 2; continue }
                if c[i] == "*" && i + 1 < c.count && c[i + 1] == "/" { depth -= 1; i += 2; continue }
                if c[i] == "\n" { out.append(.newline) }
                i += 1
            }
            continue
        }
        if s == "#" {
            var k = i, h = 0
            while k < c.count && c[k] == "#" { h += 1; k += 1 }
            if k < c.count && c[k] == "\"" { i = skipString(k, hashes: h); out.append(.string); continue }
        }
        if s == "\"" { i = skipString(i, hashes: 0); out.append(.string); continue }
        if isWordStart(s) {
            var j = i
            while j < c.count && isWordStart(c[j]) { j += 1 }
            out.append(.word(String(String.UnicodeScalarView(c[i..<j]))))
            i = j
            continue
        }
        out.append(.punct(Character(s)))
        i += 1
    }
    return out
}

let typeKeywords: Set<String> = ["class", "struct", "enum", "protocol", "extension", "actor"]
let memberKeywords: Set<String> = ["import", "func", "var", "let", "init", "deinit", "subscript", "case", "typealias",
                                   "associatedtype", "operator", "precedencegroup", "macro"]
let modifiers: Set<String> = ["public", "open", "private", "fileprivate", "internal", "package", "static", "final",
                              "override", "mutating", "nonmutating", "convenience", "required", "lazy", "weak",
                              "unowned", "indirect", "dynamic", "nonisolated", "prefix", "postfix", "infix",
                              "optional", "isolated", "consuming", "borrowing", "distributed"]

/// What one `{ ... }` is.
enum Scope {
    /// A type, extension or protocol body, or the file itself.
    case type(Context)
    /// A function body, accessor, closure or initialiser expression.
    case code(resumesHeader: Bool)
}

struct Context {
    var path: String
    /// Members count as public unless marked otherwise (public extension, public protocol, public enum's cases).
    var publicByDefault: Bool
    /// A public type whose stored properties are its layout.
    var publicType: Bool
    /// A public class that is not final: every member is in its vtable.
    var openClass: Bool
    var isEnum: Bool
    static let file = Context(path: "", publicByDefault: false, publicType: false, openClass: false, isEnum: false)
}

/// A declaration header: its attribute and modifier words, its keyword, and its text.
struct Header {
    var words: [String]
    var keyword: String?
    var name: String
    var text: String

    init(_ tokens: [Token]) {
        var parts: [String] = []
        var words: [String] = []
        var keyword: String? = nil
        var name = ""
        var i = 0
        var afterKeyword = false
        while i < tokens.count {
            switch tokens[i] {
            case .word(let w):
                parts.append(w)
                if keyword == nil {
                    words.append(w)
                    // `class func` / `class var` is a modifier, `class Foo` a type.
                    if w == "class", i + 1 < tokens.count, case .word(let next) = tokens[i + 1], memberKeywords.contains(next) || modifiers.contains(next) {
                        break
                    }
                    if typeKeywords.contains(w) || memberKeywords.contains(w) { keyword = w; afterKeyword = true }
                } else if afterKeyword {
                    name = w
                    afterKeyword = false
                }
            case .punct(let p):
                parts.append(String(p))
                if afterKeyword && keyword == "init" { afterKeyword = false }
            case .string:
                parts.append("\"\"")
            case .newline:
                break
            }
            i += 1
        }
        self.words = words
        self.keyword = keyword
        self.name = name
        // Words are separated by one space, punctuation by none, so spacing never changes the text.
        var text = ""
        var lastWasWord = false
        for p in parts {
            let isWord = p.first.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "$" || $0 == "\"" } ?? false
            if isWord && lastWasWord { text += " " }
            text += p
            lastWasWord = isWord
        }
        self.text = text
    }

    func has(_ w: String) -> Bool { words.contains(w) }
    /// `private(set)` and friends restrict the setter only.
    var explicitlyHidden: Bool {
        for (k, w) in words.enumerated() where w == "private" || w == "fileprivate" || w == "internal" || w == "package" {
            if k + 1 < words.count && words[k + 1] == "set" { continue }
            return true
        }
        return false
    }
    var explicitlyPublic: Bool { has("public") || has("open") }
    var inlinable: Bool { has("inlinable") || has("usableFromInline") || has("_alwaysEmitIntoClient") }
}

/// The interface-relevant declarations of one file, in order.
func declarations(of tokens: [Token], file: String) -> [String] {
    var out: [String] = []
    var scopes: [Scope] = [.type(.file)]
    var pending: [Token] = []
    var parens = 0
    /// After a body closes, the rest of its line (a closure initialiser's `()`) belongs to it.
    var dropRestOfLine = false
    var i = 0

    func startsDeclaration(_ k: Int) -> Bool {
        var j = k
        while j < tokens.count, tokens[j] == .newline { j += 1 }
        guard j < tokens.count else { return true }
        switch tokens[j] {
        case .punct(let p): return p == "@" || p == "}" || p == "#"
        case .word(let w): return typeKeywords.contains(w) || memberKeywords.contains(w) || modifiers.contains(w)
        default: return false
        }
    }

    func finish(opensBody: Bool) {
        defer { pending = [] }
        guard case .type(let ctx)? = scopes.last else { return }
        let h = Header(pending)
        guard let keyword = h.keyword else {
            if opensBody { scopes.append(.code(resumesHeader: false)) }
            return
        }
        let isType = typeKeywords.contains(keyword)
        let isPublic = h.explicitlyPublic || (ctx.publicByDefault && !h.explicitlyHidden)
        let isStatic = h.has("static") || (h.has("class") && !isType)
        var record = isPublic || h.inlinable
        if ctx.publicType && (keyword == "var" || keyword == "let") && !isStatic { record = true }
        if ctx.openClass && ["func", "var", "subscript", "init"].contains(keyword) { record = true }
        if ctx.isEnum && ctx.publicType && keyword == "case" { record = true }
        if record { out.append((ctx.path.isEmpty ? "" : ctx.path + " | ") + h.text) }
        guard opensBody else { return }
        if isType {
            let name = h.name
            let path = ctx.path.isEmpty ? name : ctx.path + "." + name
            let inner = Context(path: path,
                                publicByDefault: (keyword == "extension" && h.explicitlyPublic) || (keyword == "protocol" && isPublic),
                                publicType: isPublic && keyword != "extension" && keyword != "protocol",
                                openClass: keyword == "class" && isPublic && !h.has("final"),
                                isEnum: keyword == "enum")
            scopes.append(.type(inner))
        } else {
            scopes.append(.code(resumesHeader: false))
        }
    }

    while i < tokens.count {
        let t = tokens[i]
        switch scopes.last! {
        case .code:
            if t == .punct("{") { scopes.append(.code(resumesHeader: false)) }
            if t == .punct("}") {
                if case .code(let resumes) = scopes.removeLast(), !resumes { pending = []; parens = 0; dropRestOfLine = true }
            }
        case .type:
            if dropRestOfLine {
                if t == .newline { dropRestOfLine = false }
                i += 1
                continue
            }
            switch t {
            case .punct("#") where pending.isEmpty:
                // A compiler directive (#if, #else, #endif, #warning): skip the line.
                while i < tokens.count && tokens[i] != .newline { i += 1 }
                continue
            case .punct("("), .punct("["):
                parens += 1
                pending.append(t)
            case .punct(")"), .punct("]"):
                parens = max(0, parens - 1)
                pending.append(t)
            case .punct("{"):
                if parens > 0 { scopes.append(.code(resumesHeader: true)) } else { finish(opensBody: true) }
            case .punct("}"):
                pending = []
                parens = 0
                if scopes.count > 1 { scopes.removeLast() }
            case .punct(";") where parens == 0:
                finish(opensBody: false)
            case .newline:
                // Attributes on their own line stay with the declaration below them.
                if parens == 0 && !pending.isEmpty && startsDeclaration(i + 1) && Header(pending).keyword != nil {
                    finish(opensBody: false)
                }
            default:
                pending.append(t)
            }
        }
        i += 1
    }
    if !pending.isEmpty { finish(opensBody: false) }
    return out
}

/// FNV-1a, 64-bit.
func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var h: UInt64 = 0xCBF2_9CE4_8422_2325
    for b in bytes { h = (h ^ UInt64(b)) &* 0x100_0000_01B3 }
    return h
}

let args = CommandLine.arguments
guard args.count >= 5, args[1] == "core" || args[1] == "client" else {
    FileHandle.standardError.write(Data("usage: interface-fingerprint core|client CORE_DIR OUTPUT.swift LISTING.txt SOURCE.swift...\n".utf8))
    exit(2)
}
let isCore = args[1] == "core"
let root = URL(fileURLWithPath: args[2]).standardizedFileURL.path
let files = args.dropFirst(5).map { URL(fileURLWithPath: $0).standardizedFileURL.path }
    .map { path -> (String, String) in
        let rel = path.hasPrefix(root + "/") ? String(path.dropFirst(root.count + 1)) : path
        return (rel, path)
    }
    .sorted { $0.0 < $1.0 }
var listing = ""
var count = 0
for (rel, path) in files {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
        FileHandle.standardError.write(Data("interface-fingerprint: cannot read \(path)\n".utf8))
        exit(1)
    }
    let decls = declarations(of: tokenize(text), file: rel)
    if decls.isEmpty { continue }
    listing += "# \(rel)\n" + decls.joined(separator: "\n") + "\n"
    count += decls.count
}
let fingerprint = fnv1a(listing.utf8)
let hex = String(fingerprint, radix: 16)
let swift = isCore ? """
// Generated at build time by interface-fingerprint from CoreRuntime's sources; do not edit.

extension PluginABI {
    /// The fingerprint of this CoreRuntime's interface (\(count) declarations).
    public static let host: UInt64 = 0x\(hex)
}

""" : """
// Generated at build time by interface-fingerprint from CoreRuntime's sources; do not edit.

/// The fingerprint of the interface of the CoreRuntime this module is compiled against
/// (\(count) declarations), returned by `hallu_plugin_abi`.
let halluInterfaceFingerprint: UInt64 = 0x\(hex)

"""
func writeIfChanged(_ text: String, _ path: String) {
    if let old = try? String(contentsOfFile: path, encoding: .utf8), old == text { return }
    do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
        FileHandle.standardError.write(Data("interface-fingerprint: cannot write \(path): \(error)\n".utf8))
        exit(1)
    }
}
writeIfChanged(swift, args[3])
writeIfChanged(listing, args[4])
