import Foundation

/// Resampling filters for `RGBImage.resized`.
public enum ResampleFilter: String, Sendable {
    case bilinear, bicubic

    var support: Double { self == .bilinear ? 1 : 2 }

    func weight(_ x0: Double) -> Double {
        let x = abs(x0)
        switch self {
        case .bilinear: return x < 1 ? 1 - x : 0
        case .bicubic:
            // Keys' cubic with a = -0.5, the kernel PIL uses for BICUBIC.
            let a = -0.5
            if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
            if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
            return 0
        }
    }
}

/// Mean and standard deviation of CLIP's image preprocessing (OpenAI CLIP, used by LLaVA-1.5).
public enum CLIPImageStats {
    public static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]
}

extension RGBImage {
    /// Resizes with PIL's separable, antialiased resampling (a horizontal pass rounded to 8 bits,
    /// then a vertical pass, both in 22-bit fixed point), so results match `PIL.Image.resize`.
    public func resized(width newW: Int, height newH: Int, filter: ResampleFilter = .bicubic) throws -> RGBImage {
        guard newW > 0, newH > 0 else { throw HalluError("resize target must be positive, got \(newW)x\(newH)") }
        if newW == width && newH == height { return self }
        let horiz = Self.coefficients(inSize: width, outSize: newW, filter: filter)
        let vert = Self.coefficients(inSize: height, outSize: newH, filter: filter)
        var src = self
        if newW != width {
            // Only the rows the vertical pass reads are resampled horizontally, as PIL does.
            let first = vert.bounds[0].start
            let last = vert.bounds[newH - 1].start + vert.bounds[newH - 1].count
            var tmp = RGBImage(width: newW, height: last - first)
            for y in 0..<(last - first) {
                for x in 0..<newW {
                    let b = horiz.bounds[x]
                    var acc = (0, 0, 0)
                    for k in 0..<b.count {
                        let w = horiz.weights[x][k]
                        let i = ((y + first) * width + b.start + k) * 3
                        acc.0 += Int(pixels[i]) * w; acc.1 += Int(pixels[i + 1]) * w; acc.2 += Int(pixels[i + 2]) * w
                    }
                    tmp[x, y] = RGB(Self.clip8(acc.0), Self.clip8(acc.1), Self.clip8(acc.2))
                }
            }
            src = tmp
            for i in 0..<newH { vert.bounds[i].start -= first }
        }
        if newH == height && newW != width { return src }
        var out = RGBImage(width: newW, height: newH)
        for y in 0..<newH {
            let b = vert.bounds[y]
            for x in 0..<newW {
                var acc = (0, 0, 0)
                for k in 0..<b.count {
                    let w = vert.weights[y][k]
                    let i = ((b.start + k) * newW + x) * 3
                    acc.0 += Int(src.pixels[i]) * w; acc.1 += Int(src.pixels[i + 1]) * w; acc.2 += Int(src.pixels[i + 2]) * w
                }
                out[x, y] = RGB(Self.clip8(acc.0), Self.clip8(acc.1), Self.clip8(acc.2))
            }
        }
        return out
    }

    private static let precisionBits = 22

    private static func clip8(_ acc: Int) -> UInt8 {
        let v = acc + (1 << (precisionBits - 1))
        if v >= (1 << precisionBits) << 8 { return 255 }
        if v <= 0 { return 0 }
        return UInt8(v >> precisionBits)
    }

    private final class Coefficients {
        var bounds: [(start: Int, count: Int)]
        var weights: [[Int]]
        init(bounds: [(start: Int, count: Int)], weights: [[Int]]) { self.bounds = bounds; self.weights = weights }
    }

    private static func coefficients(inSize: Int, outSize: Int, filter: ResampleFilter) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = filter.support * filterScale
        var bounds: [(start: Int, count: Int)] = []
        var weights: [[Int]] = []
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let xmin = max(0, Int(center - support + 0.5))
            let xmax = min(inSize, Int(center + support + 0.5)) - xmin
            var w = (0..<max(0, xmax)).map { filter.weight((Double($0 + xmin) - center + 0.5) / filterScale) }
            let total = w.reduce(0, +)
            if total != 0 { w = w.map { $0 / total } }
            let one = Double(1 << precisionBits)
            weights.append(w.map { $0 < 0 ? Int(-0.5 + $0 * one) : Int(0.5 + $0 * one) })
            bounds.append((xmin, max(0, xmax)))
        }
        return Coefficients(bounds: bounds, weights: weights)
    }

    /// Pads to a square canvas of the longer side, centring the image (LLaVA's `expand2square`).
    /// The square counts against `Limits.imagePixels` (a 100000x1 image would pad to 10^10 pixels).
    public func paddedToSquare(background: RGB) throws -> RGBImage {
        if width == height { return self }
        let side = max(width, height)
        let what = "padding a \(width)x\(height) image to a square"
        try Limits.imagePixels.check(try CheckedSize.multiply(side, side, what), what)
        try HostMemory.check(count: side * side, elementSize: 3, what)
        var out = RGBImage(width: side, height: side, fill: background)
        out.paste(self, x: (side - width) / 2, y: (side - height) / 2)
        return out
    }

    /// LLaVA's pad-to-square with the background `int(mean * 255)` per channel.
    public func paddedToSquare(mean: [Float] = CLIPImageStats.mean) throws -> RGBImage {
        let c = mean.map { v -> UInt8 in
            let x = Double(v) * 255
            return x.isFinite ? UInt8(max(0, min(255, x.rounded(.towardZero)))) : 0
        }
        return try paddedToSquare(background: RGB(c[0], c[1], c[2]))
    }

    /// Crops the centre `width x height` region, with offsets `(old - new) / 2` as Hugging Face's
    /// `center_crop` computes them.
    public func centerCropped(width w: Int, height h: Int) throws -> RGBImage {
        guard w > 0, h > 0, w <= width, h <= height else {
            throw HalluError("cannot crop \(width)x\(height) to \(w)x\(h)")
        }
        let left = (width - w) / 2, top = (height - h) / 2
        var out = RGBImage(width: w, height: h)
        for y in 0..<h { for x in 0..<w { out[x, y] = self[left + x, top + y] } }
        return out
    }

    /// Rescales to [0, 1] and normalises per channel, returning channel-major (CHW) floats, as
    /// CLIP's image processor feeds the vision tower.
    public func normalizedCHW(mean: [Float] = CLIPImageStats.mean, std: [Float] = CLIPImageStats.std) throws -> [Float] {
        guard mean.count == 3, std.count == 3, !std.contains(0) else {
            throw HalluError("normalisation needs 3 means and 3 non-zero stds, got \(mean) and \(std)")
        }
        let plane = width * height
        var out = [Float](repeating: 0, count: 3 * plane)
        for c in 0..<3 {
            let m = Double(mean[c]), s = Double(std[c])
            for i in 0..<plane {
                let v = Double(Float(Double(pixels[i * 3 + c]) / 255))
                out[c * plane + i] = Float((v - m) / s)
            }
        }
        return out
    }
}
