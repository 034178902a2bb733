import Foundation

/// A contact sheet of scene-world images, each scaled up with its ground truth printed below, for a
/// person to check at a glance that glyphs are recognisable and text matches pixels.
public enum SampleSheet {
    /// Renders the first `count` images listed in `folder`/scenes.jsonl (train first, then eval).
    /// `scale` is the pixel scale of each image; `columns` how many images per row.
    public static func render(folder: String, count: Int, scale: Int = 6, columns: Int = 4) throws -> RGBImage {
        let scenesPath = (folder as NSString).appendingPathComponent(SceneWorld.Files.scenes)
        guard count > 0 else { throw HalluError("sample sheet needs a positive image count") }
        var tiles: [(RGBImage, [String])] = []
        for r in try firstRecords(scenesPath, count) {
            let img = try ImageFile.load((folder as NSString).appendingPathComponent(try r.string("image")))
            var text = ["#\(try r.id("id")) \(try r.string("split")) \(try r.string("scene"))"]
            for o in try r.objects("objects") {
                let size = try ["large": "L ", "tiny": "T "][o.string("size")] ?? ""
                let box = try o.ints("box").map(String.init).joined(separator: ",")
                text.append("\(size)\(try o.string("color")) \(try o.string("category")) [\(box)]")
            }
            let undrawn = try r.strings("undrawn_mentions")
            if !undrawn.isEmpty { text.append("undrawn: " + undrawn.joined(separator: ", ")) }
            tiles.append((img, text))
        }
        guard !tiles.isEmpty else { throw HalluError.file(scenesPath, "no images listed") }
        let what = "a sample sheet of \(tiles.count) images at scale \(scale)"
        let cellW = try CheckedSize.add(max(try CheckedSize.multiply(tiles.map { $0.0.width }.max()!, scale, what), 26 * BitmapFont.advance), 12, what)
        let textLines = 7
        let cellH = try CheckedSize.add(try CheckedSize.multiply(tiles.map { $0.0.height }.max()!, scale, what),
                                        textLines * BitmapFont.lineHeight + 14, what)
        guard columns >= 1 else { throw HalluError("sample sheet needs at least one column, got \(columns)") }
        let cols = min(columns, tiles.count)
        let rows = (tiles.count + cols - 1) / cols
        let pixels = try CheckedSize.multiply(try CheckedSize.multiply(cols, cellW, what), try CheckedSize.multiply(rows, cellH, what), what)
        try Limits.imagePixels.check(pixels, what)
        try HostMemory.check(count: pixels, elementSize: 6, what)
        var sheet = RGBImage(width: cols * cellW, height: rows * cellH, fill: RGB(255, 255, 255))
        let chars = (cellW - 8) / BitmapFont.advance
        for (i, (img, text)) in tiles.enumerated() {
            let x0 = (i % cols) * cellW + 6, y0 = (i / cols) * cellH + 6
            let big = try img.resizedNearest(scale: scale)
            sheet.paste(big, x: x0, y: y0)
            var y = y0 + big.height + 4
            for line in text.flatMap({ BitmapFont.wrap($0, width: chars) }).prefix(textLines) {
                BitmapFont.draw(line, on: &sheet, x: x0, y: y, color: RGB(0, 0, 0))
                y += BitmapFont.lineHeight
            }
        }
        return sheet
    }

    /// The first `count` records of a JSON Lines file, without parsing the rest.
    static func firstRecords(_ path: String, _ count: Int) throws -> [DataRecord] {
        let data = try JSONFiles.readData(path)
        var end = data.startIndex, lines = 0
        while end < data.endIndex && lines < count {
            if data[end] == 0x0A { lines += 1 }
            end += 1
        }
        return try OrderedJSON.parseLines(data[data.startIndex..<end], path: path).map { line, value in
            guard case .object(let kv) = value else { throw HalluError.file(path, line: line, "expected a JSON object") }
            return DataRecord(file: path, location: "line \(line)", fields: kv)
        }
    }

    /// Renders and saves the sheet as PNG.
    public static func save(folder: String, count: Int, to url: URL, scale: Int = 6, columns: Int = 4) throws {
        let sheet = try render(folder: folder, count: count, scale: scale, columns: columns)
        try ImageFile.savePNG(sheet, to: url, compression: Zlib.isAvailable ? .deflate(level: 6) : .stored)
    }
}

extension RGBImage {
    /// Enlarges by an integer factor, each pixel becoming a `scale x scale` block.
    func resizedNearest(scale: Int) throws -> RGBImage {
        guard scale >= 1 else { throw HalluError("scale must be >= 1") }
        var out = RGBImage(width: width * scale, height: height * scale)
        for y in 0..<out.height { for x in 0..<out.width { out[x, y] = self[x / scale, y / scale] } }
        return out
    }
}
