/// The character classes and case mappings of Python 3 `str` and `re` that NLTK's tokenisers and
/// tagger rely on, on Unicode scalars (Python strings are sequences of code points, so every length,
/// index and slice here counts scalars, never Swift `Character`s).
enum PythonText {
    typealias Scalars = [Unicode.Scalar]

    /// `\s` of `re` and `str.isspace()`: ASCII 9-13 and 28-32, and Unicode White_Space.
    static func isSpace(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return (c.value >= 9 && c.value <= 13) || (c.value >= 28 && c.value <= 32) }
        return c.properties.isWhitespace
    }

    /// A character of `string.whitespace` (" \t\n\r\x0b\x0c"), the narrower set some NLTK code tests.
    static func isASCIIWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == " " || (c.value >= 9 && c.value <= 13)
    }

    /// `str.isalpha()` of one character: general category L*.
    static func isAlpha(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return (c.value >= 65 && c.value <= 90) || (c.value >= 97 && c.value <= 122) }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    /// `\w` of `re`: `str.isalnum()` (a letter or any character with a numeric value) or "_".
    static func isWord(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 {
            let v = c.value
            return (v >= 48 && v <= 57) || (v >= 65 && v <= 90) || (v >= 97 && v <= 122) || v == 95
        }
        return isAlpha(c) || c.properties.numericType != nil
    }

    /// `\d` of `re` and `str.isdecimal()`: a decimal digit (Nd).
    static func isDecimal(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 48 && c.value <= 57 }
        return c.properties.numericType == .decimal
    }

    /// `str.isdigit()` of one character: Numeric_Type Decimal or Digit (so "²" counts, "½" does not).
    static func isDigit(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 48 && c.value <= 57 }
        let t = c.properties.numericType
        return t == .decimal || t == .digit
    }

    /// `str.isupper()` of one character.
    static func isUpper(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 65 && c.value <= 90 }
        return c.properties.isUppercase
    }

    /// `str.islower()` of one character.
    static func isLower(_ c: Unicode.Scalar) -> Bool {
        if c.value < 128 { return c.value >= 97 && c.value <= 122 }
        return c.properties.isLowercase
    }

    /// `str.lower()`: the full lower-case mapping of every character ("İ" becomes two), with the
    /// final-sigma rule (a capital sigma that ends a word becomes "ς").
    static func lower(_ s: Scalars) -> Scalars {
        if s.allSatisfy({ $0.value < 128 }) {
            return s.map { ($0.value >= 65 && $0.value <= 90) ? Unicode.Scalar($0.value + 32)! : $0 }
        }
        var out = Scalars()
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            if c.value < 128 {
                out.append((c.value >= 65 && c.value <= 90) ? Unicode.Scalar(c.value + 32)! : c)
            } else if c == "\u{03A3}" {
                out.append(isFinalSigma(s, i) ? "\u{03C2}" : "\u{03C3}")
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// `str.lower()` of a Swift string.
    static func lower(_ s: String) -> String {
        if s.utf8.allSatisfy({ $0 < 0x41 || ($0 > 0x5A && $0 < 0x80) }) { return s }
        return string(lower(Array(s.unicodeScalars)))
    }

    /// Python's Final_Sigma condition: a cased letter before (skipping case-ignorable characters)
    /// and none after.
    private static func isFinalSigma(_ s: Scalars, _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && s[j].properties.isCased else { return false }
        var k = i + 1
        while k < s.count && s[k].properties.isCaseIgnorable { k += 1 }
        return !(k < s.count && s[k].properties.isCased)
    }

    /// `str.strip()` is empty.
    static func isBlank<C: Collection>(_ s: C) -> Bool where C.Element == Unicode.Scalar {
        s.allSatisfy(isSpace)
    }

    static func string<C: Collection>(_ s: C) -> String where C.Element == Unicode.Scalar {
        var v = String.UnicodeScalarView()
        v.append(contentsOf: s)
        return String(v)
    }
}
