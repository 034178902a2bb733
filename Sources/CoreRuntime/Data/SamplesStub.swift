// Stand-in for the data layer's sample kinds; replaced at merge.
public enum DataKind: String, Codable { case sft, preference, contrastive, detection }
public struct Conversation { public var id: String; public var image: String?; public var turns: [(from: String, value: String)] }
public struct PreferencePair { public var id: String; public var image: String?; public var question: String; public var chosen: String; public var rejected: String; public var chosenScore: Double?; public var rejectedScore: Double? }
public struct ContrastiveExample { public var id: String; public var image: String?; public var caption: String; public var hallucinatedCaptions: [String] }
