import CoreRuntime

// The "Less is More" plugin (Yue, Zhang, Jin, ACL 2024): two methods from one paper, on the math of
// SelectiveEOSObjective (the training objective) and EOSScoring / EOSFilter (the data filter).

/// What the library hands to hallu (see Entry/).
public enum SelectiveEOSPlugin {
    public static var plugin: HalluPlugin {
        HalluPlugin(name: "SelectiveEOS", methods: [
            MethodDescriptor(id: SelectiveEOSMethod.methodId, summary: SelectiveEOSMethod.summaryText, make: { SelectiveEOSMethod() }),
            MethodDescriptor(id: ScoringEOSMethod.methodId, summary: ScoringEOSMethod.summaryText, make: { ScoringEOSMethod() }),
        ])
    }
}

/// The EOS id a method uses: the option when it is set (>= 0), else the tokenizer's EOS.
func resolveEOS(_ option: Int, _ context: TrainContext, method: String) throws -> Int {
    if option >= 0 { return option }
    guard let eos = context.codec.tokenizer.eosId else {
        throw HalluError("\(method): the tokenizer defines no EOS token; set \(method).eos_id")
    }
    return eos
}

/// Parses `eos_id`: -1 (the tokenizer's EOS) or a token id.
func parseEOSOption(_ o: OptionValues) throws -> Int {
    let v = try o.int("eos_id")
    guard v >= -1 else { throw HalluError("\(o.method).eos_id: expected -1 (the tokenizer's EOS) or a token id, got \(v)") }
    return v
}
