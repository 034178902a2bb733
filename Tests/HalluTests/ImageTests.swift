import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

private let imageDir = TestPaths.fixtures.appendingPathComponent("data/images")

private func expected() throws -> [String: Any] {
    try #require(try JSONFiles.readJSON(TestPaths.fixtures.appendingPathComponent("data/image_expected.json").path) as? [String: Any])
}

private func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var it = hex.makeIterator()
    while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

private func sampleImage(_ w: Int, _ h: Int) -> RGBImage {
    var img = RGBImage(width: w, height: h)
    for y in 0..<h { for x in 0..<w { img[x, y] = RGB(UInt8((x * 37 + y * 11) % 256), UInt8((x * 7 + y * 53 + 19) % 256), UInt8(((x ^ y) * 29 + 3) % 256)) } }
    return img
}

@Test func pngRoundTripStoredAndDeflate() throws {
    let img = sampleImage(13, 9)
    for c in [PNGCompression.stored, .deflate(level: 9)] {
        let data = try PNGCodec.encode(img, compression: c)
        #expect(try PNGCodec.decode(data) == img)
    }
    // Stored blocks: 9 rows of 1 + 39 bytes, plus zlib/deflate framing and the PNG chunks.
    #expect(try PNGCodec.encode(img).count == 8 + 25 + 12 + (2 + 5 + 9 * 40 + 4) + 12)
    // More than one stored block (> 65535 bytes of rows).
    let big = sampleImage(200, 120)
    #expect(try PNGCodec.decode(try PNGCodec.encode(big)) == big)
}

@Test func pngDecodesPillowFilesOfEveryColourType() throws {
    let decoded = try #require(try expected()["decoded"] as? [String: [String: Any]])
    for name in ["rgb.png", "filters.png", "gray.png", "rgba.png", "palette.png", "gray16.png"] {
        let e = try #require(decoded[name])
        let img = try ImageFile.load(imageDir.appendingPathComponent(name).path)
        #expect(img.width == e["width"] as? Int && img.height == e["height"] as? Int, "\(name)")
        #expect(img.pixels == bytes(hex: e["rgb"] as! String), "\(name)")
    }
}

@Test func interlacedPNGIsRefusedByName() throws {
    let path = imageDir.appendingPathComponent("interlaced.png").path
    #expect { try ImageFile.load(path) } throws: { e in
        let m = (e as? HalluError)?.message ?? ""
        return m.contains("interlaced.png") && m.contains("interlaced")
    }
}

@Test func corruptPNGNamesTheFile() throws {
    var data = try PNGCodec.encode(sampleImage(4, 4))
    data[40] ^= 0xFF  // inside IDAT: the chunk CRC no longer matches
    #expect { try PNGCodec.decode(data, path: "x.png") } throws: { ($0 as? HalluError)?.message.contains("x.png") == true }
    #expect { try PNGCodec.decode(data.prefix(30), path: "y.png") } throws: { ($0 as? HalluError)?.message.contains("y.png") == true }
}

@Test func unknownImageFormatNamesTheFile() throws {
    let dir = TestPaths.tempDir("img")
    let f = dir.appendingPathComponent("picture.gif")
    try AtomicFile.write(Data("GIF89a....".utf8), to: f)
    #expect { try ImageFile.load(f.path) } throws: { e in
        let m = (e as? HalluError)?.message ?? ""
        return m.contains("picture.gif") && m.contains("unknown image format")
    }
    #expect { try ImageFile.load(dir.appendingPathComponent("absent.png").path) } throws: {
        ($0 as? HalluError)?.message.contains("absent.png") == true
    }
}

@Test func jpegDecodesLikePillow() throws {
    let path = imageDir.appendingPathComponent("photo.jpg").path
    guard JPEGCodec.isAvailable else {
        #expect { try ImageFile.load(path) } throws: { ($0 as? HalluError)?.message.contains("libturbojpeg") == true }
        return
    }
    let e = try #require((try expected()["decoded"] as? [String: [String: Any]])?["photo.jpg"])
    let img = try ImageFile.load(path)
    #expect(img.width == 24 && img.height == 16)
    let want = bytes(hex: e["rgb"] as! String)
    let maxDiff = zip(img.pixels, want).map { abs(Int($0) - Int($1)) }.max() ?? 0
    #expect(maxDiff == 0, "max pixel difference to Pillow \(maxDiff)")
    // A truncated JPEG is an error naming the file, not a partial image.
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    #expect { try ImageFile.decode(data.prefix(40), path: "cut.jpg") } throws: { ($0 as? HalluError)?.message.contains("cut.jpg") == true }
}

@Test func resizeMatchesPillow() throws {
    let resized = try #require(try expected()["resized"] as? [String: [String: Any]])
    let src = try ImageFile.load(imageDir.appendingPathComponent("rgb.png").path)
    #expect(resized.count == 10)
    for (key, e) in resized {
        let filter: ResampleFilter = key.hasPrefix("bilinear") ? .bilinear : .bicubic
        let w = e["width"] as! Int, h = e["height"] as! Int
        let out = try src.resized(width: w, height: h, filter: filter)
        #expect(out.pixels == bytes(hex: e["rgb"] as! String), "\(key)")
    }
}

@Test func llavaPadAndCLIPNormaliseMatchTransformers() throws {
    let clip = try #require(try expected()["clip"] as? [String: Any])
    let src = try ImageFile.load(imageDir.appendingPathComponent("rgb.png").path)
    let pad = clip["pad_color"] as! [Int]
    let square = try src.paddedToSquare()
    #expect(square.width == 13 && square.height == 13)
    #expect(square[0, 0] == RGB(UInt8(pad[0]), UInt8(pad[1]), UInt8(pad[2])))
    #expect(square[0, 2] == src[0, 0])  // pasted at (0, (13 - 9) / 2)
    let resized = try square.resized(width: 24, height: 24, filter: .bicubic)
    let cropped = try resized.centerCropped(width: 24, height: 24)
    let values = try cropped.normalizedCHW()
    let want = (clip["values"] as! [Any]).map { ($0 as! NSNumber).floatValue }
    #expect(values.count == want.count)
    let maxErr = zip(values, want).map { abs($0 - $1) }.max() ?? 1
    #expect(maxErr < 1e-5, "max |diff| \(maxErr)")
}

@Test func centerCropAndPaddingGeometry() throws {
    let img = sampleImage(10, 6)
    let c = try img.centerCropped(width: 4, height: 3)
    #expect(c[0, 0] == img[3, 1])
    #expect(throws: HalluError.self) { try img.centerCropped(width: 11, height: 3) }
    let tall = try sampleImage(3, 8).paddedToSquare(background: RGB(1, 2, 3))
    #expect(tall.width == 8 && tall[0, 0] == RGB(1, 2, 3) && tall[2, 0] == sampleImage(3, 8)[0, 0])
}

@Test func bitmapFontCoversPrintableASCII() {
    var inked = Set<Int>()
    for code in 33...126 {
        let ch = Character(UnicodeScalar(UInt8(code)))
        var pattern = 0
        for y in 0..<7 { for x in 0..<5 where BitmapFont.ink(ch, x: x, y: y) { pattern |= 1 << (y * 5 + x) } }
        #expect(pattern != 0, "glyph for \(ch) is blank")
        inked.insert(pattern)
    }
    #expect(inked.count == 94, "every printable character has its own glyph")
    #expect(BitmapFont.wrap("the quick brown fox", width: 9) == ["the quick", "brown fox"])
}
