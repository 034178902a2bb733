// Stand-in for the tokenizer layer; replaced at merge.
public final class Tokenizer {
    public var eosId: Int? = 2
    public var bosId: Int? = 1
    public var vocabSize = 50
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int] { Array(text.utf8.prefix(10)).map { Int($0) % 40 + 3 } }
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = true) -> String { ids.map(String.init).joined(separator: " ") }
}
