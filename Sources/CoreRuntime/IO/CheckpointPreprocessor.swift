import Foundation

/// A Hugging Face `CLIPImageProcessor` configuration (`preprocessor_config.json`): how an image is
/// resized, cropped, rescaled and normalised before the vision tower.
public struct ImageProcessorConfig: Codable, Equatable, Sendable {
    /// Resize target: either the shortest edge (aspect kept) or an exact height and width.
    public enum Size: Equatable, Sendable {
        case shortestEdge(Int)
        case exact(height: Int, width: Int)
    }

    public var size: Size
    public var cropHeight: Int
    public var cropWidth: Int
    public var doResize: Bool
    public var doCenterCrop: Bool
    public var doRescale: Bool
    public var rescaleFactor: Double
    public var doNormalize: Bool
    public var doConvertRGB: Bool
    /// Per-channel mean and standard deviation used by normalisation, in RGB order.
    public var imageMean: [Double]
    public var imageStd: [Double]
    /// PIL resampling filter code (3 = bicubic, CLIP's choice).
    public var resample: Int

    /// CLIP's normalisation constants.
    public static let clipMean = [0.48145466, 0.4578275, 0.40821073]
    public static let clipStd = [0.26862954, 0.26130258, 0.27577711]

    public init(size: Size, cropHeight: Int, cropWidth: Int, doResize: Bool = true, doCenterCrop: Bool = true,
                doRescale: Bool = true, rescaleFactor: Double = 1.0 / 255.0, doNormalize: Bool = true,
                doConvertRGB: Bool = true, imageMean: [Double] = clipMean, imageStd: [Double] = clipStd,
                resample: Int = 3) {
        self.size = size
        self.cropHeight = cropHeight
        self.cropWidth = cropWidth
        self.doResize = doResize
        self.doCenterCrop = doCenterCrop
        self.doRescale = doRescale
        self.rescaleFactor = rescaleFactor
        self.doNormalize = doNormalize
        self.doConvertRGB = doConvertRGB
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.resample = resample
    }

    /// The processor for square images of `side` pixels, as LLaVA uses it: shortest edge and crop
    /// both `side`.
    public static func square(_ side: Int, mean: [Double] = clipMean, std: [Double] = clipStd) -> ImageProcessorConfig {
        ImageProcessorConfig(size: .shortestEdge(side), cropHeight: side, cropWidth: side, imageMean: mean, imageStd: std)
    }

    /// Reads `preprocessor_config.json`; errors name the file and key.
    public static func load(_ path: String) throws -> ImageProcessorConfig {
        try CheckpointJSON.read(ImageProcessorConfig.self, from: path)
    }

    /// Atomically writes `preprocessor_config.json`.
    public func save(to url: URL) throws { try CheckpointJSON.write(self, to: url) }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: JSONKey.self)
        if let type: String = try c.optional("image_processor_type"),
           !(type == "CLIPImageProcessor" || type == "CLIPImageProcessorFast") {
            throw c.invalid("image_processor_type", "unsupported \"\(type)\" (only CLIPImageProcessor)")
        }
        size = try Self.decodeSize(c, key: "size", default: .shortestEdge(224))
        switch try Self.decodeSize(c, key: "crop_size", default: .exact(height: 224, width: 224)) {
        case .exact(let h, let w): (cropHeight, cropWidth) = (h, w)
        case .shortestEdge(let s): (cropHeight, cropWidth) = (s, s)
        }
        doResize = try c.optional("do_resize", default: true)
        doCenterCrop = try c.optional("do_center_crop", default: true)
        doRescale = try c.optional("do_rescale", default: true)
        rescaleFactor = try c.optional("rescale_factor", default: 1.0 / 255.0)
        if !(rescaleFactor.isFinite && rescaleFactor > 0) {
            throw c.invalid("rescale_factor", "must be a positive number, found \(rescaleFactor)")
        }
        doNormalize = try c.optional("do_normalize", default: true)
        // Images are always decoded to RGB; without the conversion a grey or RGBA image would not
        // have the three channels the vision tower takes, so both values behave the same here.
        doConvertRGB = try c.optional("do_convert_rgb", default: true)
        imageMean = try Self.channels(c, "image_mean", default: Self.clipMean)
        imageStd = try Self.channels(c, "image_std", default: Self.clipStd)
        if let bad = imageMean.first(where: { !$0.isFinite }) {
            throw c.invalid("image_mean", "must be finite, found \(bad)")
        }
        if let bad = imageStd.first(where: { !($0.isFinite && $0 > 0) }) {
            throw c.invalid("image_std", "must be positive, found \(bad)")
        }
        resample = try c.optional("resample", default: 3)
        guard ResampleFilter(pilCode: resample) != nil else {
            throw c.invalid("resample", "PIL filter \(resample) is not supported (2 = bilinear, 3 = bicubic)")
        }
        // Settings of other image processors that would change the pixels: refused, not ignored.
        if let p: [[Int]] = try? c.optional("image_grid_pinpoints"), !p.isEmpty {
            throw c.invalid("image_grid_pinpoints", "multi-resolution tiling (LLaVA-NeXT) is not supported")
        }
        for key in ["do_pad", "do_image_splitting"] where (try? c.optional(key, default: false)) == true {
            throw c.invalid(key, "is not supported (only CLIPImageProcessor's resize, crop, rescale and normalise)")
        }
        for (key, side) in [("size", Self.largestSide(size)), ("crop_size", max(cropHeight, cropWidth))] where side > Self.maxSide {
            throw c.invalid(key, "\(side) pixels is larger than \(Self.maxSide)")
        }
        // The crop must fit what the resize makes (HF would pad with black instead; LLaVA never does).
        if doResize && doCenterCrop {
            let (h, w): (Int, Int)
            switch size {
            case .shortestEdge(let e): (h, w) = (e, e)
            case .exact(let eh, let ew): (h, w) = (eh, ew)
            }
            if cropHeight > h || cropWidth > w {
                throw c.invalid("crop_size", "\(cropWidth)x\(cropHeight) does not fit in the resized image (size \(w)x\(h))")
            }
        }
    }

    /// Largest side a resize or crop may ask for (the pixel limit would refuse the square anyway).
    static let maxSide = 1 << 16

    private static func largestSide(_ s: Size) -> Int {
        switch s {
        case .shortestEdge(let e): return e
        case .exact(let h, let w): return max(h, w)
        }
    }

    /// Accepts `{"shortest_edge": n}`, `{"height": h, "width": w}` or a bare integer (older files).
    private static func decodeSize(_ c: KeyedDecodingContainer<JSONKey>, key: String, default value: Size) throws -> Size {
        guard c.contains(JSONKey(key)), !(try c.decodeNil(forKey: JSONKey(key))) else { return value }
        if let n = try? c.decode(Int.self, forKey: JSONKey(key)) {
            if n <= 0 { throw c.invalid(key, "must be positive, found \(n)") }
            return key == "size" ? .shortestEdge(n) : .exact(height: n, width: n)
        }
        let s = try c.nestedContainer(keyedBy: JSONKey.self, forKey: JSONKey(key))
        if s.contains("shortest_edge") { return .shortestEdge(try s.positive("shortest_edge")) }
        if s.contains("height") || s.contains("width") {
            return .exact(height: try s.positive("height"), width: try s.positive("width"))
        }
        throw c.invalid(key, "expected {\"shortest_edge\": n} or {\"height\": h, \"width\": w}")
    }

    /// Accepts a list of three numbers or one number for all channels.
    private static func channels(_ c: KeyedDecodingContainer<JSONKey>, _ key: String, default value: [Double]) throws -> [Double] {
        guard c.contains(JSONKey(key)), !(try c.decodeNil(forKey: JSONKey(key))) else { return value }
        if let one = try? c.decode(Double.self, forKey: JSONKey(key)) { return [one, one, one] }
        let list: [Double] = try c.required(key)
        if list.count != 3 { throw c.invalid(key, "expected 3 values (R, G, B), found \(list.count)") }
        return list
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: JSONKey.self)
        try c.encode("CLIPImageProcessor", forKey: "image_processor_type")
        switch size {
        case .shortestEdge(let s): try c.encode(["shortest_edge": s], forKey: "size")
        case .exact(let h, let w): try c.encode(["height": h, "width": w], forKey: "size")
        }
        try c.encode(["height": cropHeight, "width": cropWidth], forKey: "crop_size")
        try c.encode(doResize, forKey: "do_resize")
        try c.encode(doCenterCrop, forKey: "do_center_crop")
        try c.encode(doRescale, forKey: "do_rescale")
        try c.encode(rescaleFactor, forKey: "rescale_factor")
        try c.encode(doNormalize, forKey: "do_normalize")
        try c.encode(doConvertRGB, forKey: "do_convert_rgb")
        try c.encode(imageMean, forKey: "image_mean")
        try c.encode(imageStd, forKey: "image_std")
        try c.encode(resample, forKey: "resample")
    }
}
