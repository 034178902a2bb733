import Foundation

extension ResampleFilter {
    /// The filter of a PIL resampling code (`resample` in preprocessor_config.json), nil for
    /// filters hallu does not implement.
    public init?(pilCode: Int) {
        switch pilCode {
        case 2: self = .bilinear
        case 3: self = .bicubic
        default: return nil
        }
    }
}

extension ImageProcessorConfig {
    /// The pixels this processor feeds the vision tower, CHW floats, as Hugging Face's
    /// `CLIPImageProcessor` computes them: resize (shortest edge or exact size, with `resample`),
    /// centre crop, rescale, normalise, each when its `do_*` flag is set. The output must be
    /// `side` x `side`, the vision tower's `image_size`.
    public func pixels(_ image: RGBImage, side: Int, path: String) throws -> [Float] {
        var img = image
        if doResize {
            let (h, w) = try resizeTarget(height: img.height, width: img.width)
            let filter = ResampleFilter(pilCode: resample) ?? .bicubic
            if h != img.height || w != img.width {
                let what = "\(path): resizing to \(w)x\(h) (size in preprocessor_config.json)"
                try Limits.imagePixels.check(try CheckedSize.multiply(h, w, what), what)
                img = try img.resized(width: w, height: h, filter: filter)
            }
        }
        if doCenterCrop && (img.width != cropWidth || img.height != cropHeight) {
            guard cropWidth <= img.width, cropHeight <= img.height else {
                throw HalluError.file(path, "the preprocessor crops \(cropWidth)x\(cropHeight) from a \(img.width)x\(img.height) image; "
                    + "crop_size must not exceed size in preprocessor_config.json")
            }
            img = try img.centerCropped(width: cropWidth, height: cropHeight)
        }
        guard img.width == side, img.height == side else {
            throw HalluError.file(path, "the preprocessor makes \(img.width)x\(img.height) images, but the vision tower takes "
                + "\(side)x\(side) (image_size in config.json); make size and crop_size of preprocessor_config.json \(side)")
        }
        return img.channelsCHW(scale: doRescale ? rescaleFactor : 1,
                               mean: doNormalize ? imageMean : nil, std: doNormalize ? imageStd : nil)
    }

    /// The (height, width) of a resize, as transformers' `get_resize_output_image_size` computes it.
    func resizeTarget(height: Int, width: Int) throws -> (Int, Int) {
        switch size {
        case .exact(let h, let w): return (h, w)
        case .shortestEdge(let edge):
            let short = min(width, height), long = max(width, height)
            let newLong = Int(Double(edge) * Double(long) / Double(short))
            guard newLong <= Self.maxSide else {
                throw HalluError("resizing a \(width)x\(height) image to a shortest edge of \(edge) (size in preprocessor_config.json) "
                    + "gives a side of \(newLong) pixels, more than \(Self.maxSide)")
            }
            return width <= height ? (newLong, edge) : (edge, newLong)
        }
    }
}

extension RGBImage {
    /// Channel-major floats `(p * scale - mean) / std` (normalisation skipped when `mean` is nil).
    /// The rescale by 1/255 divides, as the reference's float64 arithmetic rounds it.
    func channelsCHW(scale: Double, mean: [Double]?, std: [Double]?) -> [Float] {
        let plane = width * height
        var out = [Float](repeating: 0, count: 3 * plane)
        let divide = scale == 1.0 / 255.0
        for c in 0..<3 {
            let m = mean.map { Double(Float($0[c])) }, s = std.map { Double(Float($0[c])) }
            for i in 0..<plane {
                let p = Double(pixels[i * 3 + c])
                let v = Double(Float(divide ? p / 255 : p * scale))
                if let m, let s { out[c * plane + i] = Float((v - m) / s) } else { out[c * plane + i] = Float(v) }
            }
        }
        return out
    }
}
