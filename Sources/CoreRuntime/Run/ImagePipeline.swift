import Foundation

/// Turns image files into model pixels as LLaVA-1.5 does: pad to a square with the mean colour,
/// then the checkpoint's image processor (resize, crop, rescale, normalise; CHW order).
public enum ImagePipeline {
    /// A loader for `ImageStore`. Relative paths resolve against `root`, and every path must stay
    /// inside `root` unless `allowOutside` (with no `root`, paths are taken as given).
    public static func loader(size: Int, processor: ImageProcessorConfig?, root: URL?, padToSquare: Bool = true,
                              allowOutside: Bool = false) -> (String) throws -> [Float] {
        let proc = processor ?? .square(size)
        let mean = proc.imageMean.map(Float.init)
        return { path in
            let full = try root.map { try ContainedPath.resolve(path, in: $0, allowOutside: allowOutside, what: "image") } ?? path
            var img = try ImageFile.load(full)
            if padToSquare && img.width != img.height {
                do { img = try img.paddedToSquare(mean: mean) } catch let e as HalluError { throw HalluError.file(full, e.message) }
            }
            return try proc.pixels(img, side: size, path: full)
        }
    }
}
