import CoreRuntime
import Foundation

/// Where a preference method's training pairs come from. The default takes the pairs the run's data
/// folder holds; a pipeline that builds pairs from the model's own answers (HSA-DPO's
/// detect-then-rewrite: describe, detect hallucinated sentences with their severities, rewrite them)
/// conforms to this protocol and hands its pairs, with `rejectedScore` set, to the same loss.
public protocol PreferenceSource: AnyObject {
    /// A short name for logs and errors.
    var name: String { get }
    /// The pairs to train on, given the loaded data and the run.
    func pairs(_ data: TrainingData, _ context: TrainContext) throws -> [PreferencePair]
}

/// The pairs of the run's data, unchanged.
public final class DatasetPreferences: PreferenceSource {
    public init() {}
    public var name: String { "dataset" }
    public func pairs(_ data: TrainingData, _ context: TrainContext) throws -> [PreferencePair] { data.preferences }
}
