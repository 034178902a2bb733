import Foundation

extension Tokenizer {
    /// Checks that this tokenizer fits the model of `config`: every id it can produce has an embedding
    /// row (ids below `text_config.vocab_size`), and so have its special tokens. A tokenizer with fewer
    /// ids than the model is fine (checkpoints pad their vocabulary); ids it lacks decode to nothing,
    /// as in Hugging Face's tokenizers.
    public func check(against config: LlavaConfig, file: String) throws {
        let rows = config.text.vocabSize
        if vocabSize > rows {
            throw HalluError.file(file, "the tokenizer has ids up to \(vocabSize - 1), but the model's embedding has \(rows) rows "
                + "(text_config.vocab_size in config.json); use the tokenizer the checkpoint was trained with")
        }
        for (name, id) in [("bos", bosId), ("eos", eosId), ("pad", padId), ("unk", unkId)] {
            if let id, id < 0 || id >= rows {
                throw HalluError.file(file, "the \(name) token's id \(id) is outside the model's vocabulary of \(rows)")
            }
        }
    }
}
