import Foundation

/// Turns image files into model pixels as LLaVA-1.5 does: pad to a square with the mean colour,
/// resize to the tower's input size, normalise with the processor's mean and std (CHW order).
public enum ImagePipeline {
    /// A loader for `ImageStore`. Relative paths resolve against `root`.
    public static func loader(size: Int, processor: ImageProcessorConfig?, root: URL?, padToSquare: Bool = true) -> (String) throws -> [Float] {
        let mean = (processor?.imageMean ?? ImageProcessorConfig.clipMean).map(Float.init)
        let std = (processor?.imageStd ?? ImageProcessorConfig.clipStd).map(Float.init)
        return { path in
            let full = path.hasPrefix("/") || root == nil ? path : root!.appendingPathComponent(path).path
            var img = try ImageFile.load(full)
            if padToSquare && img.width != img.height { img = img.paddedToSquare(mean: mean) }
            if img.width != size || img.height != size { img = try img.resized(width: size, height: size) }
            return try img.normalizedCHW(mean: mean, std: std)
        }
    }
}
