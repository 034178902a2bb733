import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

// MARK: - Utilities shared by the checkpoint tests

/// `Tests/Fixtures/checkpoint/<rel>`.
func checkpointFixture(_ rel: String) -> URL { TestPaths.fixtures.appendingPathComponent("checkpoint/\(rel)") }

/// A JSON fixture parsed into a dictionary.
func checkpointFixtureJSON(_ rel: String) throws -> [String: Any] {
    try #require(try JSONFiles.readJSON(checkpointFixture(rel).path) as? [String: Any])
}

/// float32 bit patterns, as the fixtures store values.
func checkpointBits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// Integers from a parsed JSON list.
func checkpointInts(_ any: Any?) -> [Int] { (any as? [Any] ?? []).map { ($0 as? NSNumber)?.intValue ?? Int.min } }

/// Runs `body` and requires a `HalluError` whose message contains every fragment.
func expectCheckpointError(_ fragments: [String], sourceLocation: SourceLocation = #_sourceLocation,
                           _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected an error containing \(fragments)", sourceLocation: sourceLocation)
    } catch let e as HalluError {
        for f in fragments {
            #expect(e.message.contains(f), "\"\(e.message)\" does not contain \"\(f)\"", sourceLocation: sourceLocation)
        }
    } catch {
        Issue.record("expected a HalluError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// Writes raw bytes: an 8-byte length (the header's own unless overridden), the header, then data.
func writeRawSafeTensors(_ header: String, data: [UInt8] = [], length: UInt64? = nil, name: String = "raw.safetensors") throws -> String {
    var bytes: [UInt8] = []
    withUnsafeBytes(of: (length ?? UInt64(header.utf8.count)).littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: Array(header.utf8))
    bytes.append(contentsOf: data)
    let url = TestPaths.tempDir("st").appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

// MARK: - Golden files from the reference library

@Test func safetensorsReadsEveryDtypeLikeTheReference() throws {
    let expected = try #require(try checkpointFixtureJSON("tensors.json")["mixed"] as? [String: [String: Any]])
    let file = try SafeTensorsFile(path: checkpointFixture("mixed.safetensors").path)
    #expect(file.metadata == ["format": "pt"])
    #expect(file.names == expected.keys.sorted())
    #expect(file.entries["b.f16"]?.dtype == .F16)
    #expect(file.entries["c.bf16"]?.dtype == .BF16)
    for (name, spec) in expected {
        let a = try file.array(name)
        #expect(a.shape == checkpointInts(spec["shape"]), "\(name)")
        #expect(checkpointBits(a.values) == checkpointInts(spec["bits"]).map { UInt32($0) }, "\(name)")
    }
    #expect(try file.array("scalar").values == [2.5])
    #expect(try file.array("d.i64").values == [-3, 0, 7, 123456])
}

@Test func safetensorsWriterIsByteIdenticalToTheReference() throws {
    let spec = try #require(try checkpointFixtureJSON("tensors.json")["written"] as? [String: Any])
    let metadata = try #require(spec["metadata"] as? [String: String])
    let tensors = try #require(spec["tensors"] as? [String: [String: Any]])
    var arrays: [String: HostArray] = [:]
    var dtypes: [String: SafeTensorsDType] = [:]
    for (name, t) in tensors {
        let values = checkpointInts(t["source_bits"]).map { Float(bitPattern: UInt32($0)) }
        arrays[name] = HostArray(shape: checkpointInts(t["shape"]), values: values)
        dtypes[name] = SafeTensorsDType(rawValue: try #require(t["dtype"] as? String))
    }
    let ours = try SafeTensors.encode(arrays, metadata: metadata, dtypes: dtypes)
    let reference = try Data(contentsOf: checkpointFixture("reference_written.safetensors"))
    #expect(ours.count == reference.count)
    #expect(ours == reference)
}

@Test func halfConversionsRoundLikePyTorch() throws {
    let spec = try #require(try checkpointFixtureJSON("tensors.json")["rounding"] as? [String: Any])
    let inputs = checkpointInts(spec["f32_bits"]).map { Float(bitPattern: UInt32($0)) }
    let f16 = checkpointInts(spec["f16_bits"]).map { UInt16($0) }
    let bf16 = checkpointInts(spec["bf16_bits"]).map { UInt16($0) }
    #expect(inputs.count > 1500)
    var f16Wrong = 0, bf16Wrong = 0, f16Back = 0
    for (i, x) in inputs.enumerated() {
        if HalfPrecision.half(from: x) != f16[i] { f16Wrong += 1 }
        // PyTorch's NaN payloads differ between its scalar and vector paths; any NaN will do.
        let b = HalfPrecision.bfloat16(from: x)
        if x.isNaN ? !HalfPrecision.float(fromBFloat16: b).isNaN : b != bf16[i] { bf16Wrong += 1 }
        // binary16 -> float32 -> binary16 is the identity on every non-NaN value.
        let back = HalfPrecision.float(fromHalf: f16[i])
        if !back.isNaN && HalfPrecision.half(from: back) != f16[i] { f16Back += 1 }
    }
    #expect(f16Wrong == 0)
    #expect(bf16Wrong == 0)
    #expect(f16Back == 0)
}

@Test func safetensorsRoundTripsAllWritableDtypes() throws {
    var rng = SystemRandomNumberGenerator()
    let a = HostArray(shape: [3, 5], values: (0..<15).map { _ in Float.random(in: -4...4, using: &rng) })
    let dir = TestPaths.tempDir("st")
    for dtype in [SafeTensorsDType.F32, .F16, .BF16] {
        let url = dir.appendingPathComponent("\(dtype.rawValue).safetensors")
        try SafeTensors.write(["w": a, "scalar": HostArray(shape: [], values: [7]), "empty": .zeros([2, 0])],
                              to: url, metadata: ["format": "pt"], dtype: dtype)
        let back = try SafeTensors.read(url.path)
        let expected: [Float] = switch dtype {
        case .F16: a.values.map { HalfPrecision.float(fromHalf: HalfPrecision.half(from: $0)) }
        case .BF16: a.values.map { HalfPrecision.float(fromBFloat16: HalfPrecision.bfloat16(from: $0)) }
        default: a.values
        }
        #expect(back["w"] == HostArray(shape: [3, 5], values: expected))
        #expect(back["scalar"] == HostArray(shape: [], values: [7]))
        #expect(back["empty"] == HostArray(shape: [2, 0], values: []))
        // Header padded with spaces to 8 bytes, as the reference writes it.
        let bytes = try Data(contentsOf: url)
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        #expect(n % 8 == 0)
    }
    #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent("F16.safetensors").path))
}

@Test func safetensorsWriterRefusesBadArrays() throws {
    let url = TestPaths.tempDir("st").appendingPathComponent("bad.safetensors")
    expectCheckpointError(["bad.safetensors", "\"w\"", "needs 6 values, has 5"]) {
        try SafeTensors.write(["w": HostArray(shape: [2, 3], values: [1, 2, 3, 4, 5])], to: url)
    }
    expectCheckpointError(["bad.safetensors", "cannot write dtype I64"]) {
        try SafeTensors.write(["w": HostArray(shape: [1], values: [1])], to: url, dtype: .I64)
    }
    expectCheckpointError(["reserved"]) {
        try SafeTensors.write(["__metadata__": HostArray(shape: [1], values: [1])], to: url)
    }
    #expect(!FileManager.default.fileExists(atPath: url.path))
}

// MARK: - Malformed files

@Test func safetensorsRejectsTruncatedFiles() throws {
    let url = TestPaths.tempDir("st").appendingPathComponent("short.safetensors")
    try Data([1, 2, 3]).write(to: url)
    expectCheckpointError(["short.safetensors", "shorter than the 8-byte header length"]) { _ = try SafeTensorsFile(path: url.path) }

    let long = try writeRawSafeTensors("{}", length: 500, name: "long.safetensors")
    expectCheckpointError(["long.safetensors", "header length 500 is larger than the file"]) { _ = try SafeTensorsFile(path: long) }

    expectCheckpointError(["nothere.safetensors", "no such file"]) { _ = try SafeTensorsFile(path: "/nonexistent/nothere.safetensors") }
}

@Test func safetensorsRejectsMalformedHeaders() throws {
    let bad = try writeRawSafeTensors("{\"a\": {\"dtype\": \"F32\",", name: "json.safetensors")
    expectCheckpointError(["json.safetensors", "malformed header JSON"]) { _ = try SafeTensorsFile(path: bad) }

    let list = try writeRawSafeTensors("[1, 2]", name: "list.safetensors")
    expectCheckpointError(["list.safetensors", "expected a JSON object"]) { _ = try SafeTensorsFile(path: list) }

    let noDtype = try writeRawSafeTensors("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0], name: "nodtype.safetensors")
    expectCheckpointError(["nodtype.safetensors", "tensor \"a\"", "missing \"dtype\""]) { _ = try SafeTensorsFile(path: noDtype) }

    let fracShape = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0], name: "frac.safetensors")
    expectCheckpointError(["frac.safetensors", "\"shape\" must be a list of integers"]) { _ = try SafeTensorsFile(path: fracShape) }

    let meta = try writeRawSafeTensors("{\"__metadata__\":{\"n\":1}}", name: "meta.safetensors")
    expectCheckpointError(["meta.safetensors", "__metadata__ must map strings to strings"]) { _ = try SafeTensorsFile(path: meta) }
}

@Test func safetensorsRejectsBadEntries() throws {
    let four: [UInt8] = [0, 0, 128, 63]  // 1.0f
    let dtype = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F8_E4M3\",\"shape\":[4],\"data_offsets\":[0,4]}}", data: four, name: "dtype.safetensors")
    expectCheckpointError(["dtype.safetensors", "tensor \"a\"", "unsupported dtype \"F8_E4M3\""]) { _ = try SafeTensorsFile(path: dtype) }

    let negative = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", data: four, name: "neg.safetensors")
    expectCheckpointError(["neg.safetensors", "tensor \"a\"", "negative dimension"]) { _ = try SafeTensorsFile(path: negative) }

    let range = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", data: four, name: "range.safetensors")
    expectCheckpointError(["range.safetensors", "tensor \"a\"", "data_offsets [0, 8] out of range", "4 bytes"]) { _ = try SafeTensorsFile(path: range) }

    let reversed = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,0]}}", data: four, name: "rev.safetensors")
    expectCheckpointError(["rev.safetensors", "out of range"]) { _ = try SafeTensorsFile(path: reversed) }

    let size = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", data: four, name: "size.safetensors")
    expectCheckpointError(["size.safetensors", "tensor \"a\"", "hold 4 bytes but shape [2] of F32 needs 8"]) { _ = try SafeTensorsFile(path: size) }

    let overlap = try writeRawSafeTensors(
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[6,10]}}",
        data: four + four + [0, 0], name: "overlap.safetensors")
    expectCheckpointError(["overlap.safetensors", "\"a\"", "\"b\"", "overlap"]) { _ = try SafeTensorsFile(path: overlap) }

    let pairs = try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", data: four, name: "pairs.safetensors")
    expectCheckpointError(["pairs.safetensors", "data_offsets must be [begin, end]"]) { _ = try SafeTensorsFile(path: pairs) }

    let ok = try SafeTensorsFile(path: try writeRawSafeTensors("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", data: four))
    #expect(try ok.array("a").values == [1])
    expectCheckpointError(["raw.safetensors", "no tensor named \"b\""]) { _ = try ok.array("b") }
}

// MARK: - Sharded checkpoints

@Test func shardedIndexWrittenByTransformersLoads() throws {
    let index = try SafeTensorsIndex(path: checkpointFixture("micro_llava/model.safetensors.index.json").path)
    #expect(index.shardFiles == ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    #expect((index.metadata["total_size"] as? NSNumber)?.intValue == 26432)
    let arrays = try index.arrays()
    #expect(arrays.count == index.weightMap.count)
    #expect(arrays.values.reduce(0) { $0 + $1.values.count } * 4 == 26432)
    #expect(try index.shapes() == arrays.mapValues(\.shape))
}

@Test func shardedWriteReadsBackAndChecksItsIndex() throws {
    let dir = TestPaths.tempDir("shard")
    var arrays: [String: HostArray] = [:]
    for i in 0..<5 { arrays["t\(i)"] = HostArray(shape: [10], values: (0..<10).map { Float(i * 10 + $0) }) }
    let indexURL = try SafeTensorsIndex.write(arrays, to: dir, maxShardBytes: 100)
    let index = try SafeTensorsIndex(path: indexURL.path)
    // 40-byte tensors, at most 100 bytes a shard: two per shard.
    #expect(index.shardFiles == (1...3).map { "model-0000\($0)-of-00003.safetensors" })
    #expect(try index.arrays() == arrays)
    #expect((index.metadata["total_size"] as? NSNumber)?.intValue == 200)

    // An index that lists a tensor in the wrong shard.
    var bad = try #require(try JSONFiles.readJSON(indexURL.path) as? [String: Any])
    var map = try #require(bad["weight_map"] as? [String: String])
    map["t0"] = "model-00002-of-00003.safetensors"
    bad["weight_map"] = map
    try AtomicFile.writeJSON(bad, to: indexURL)
    expectCheckpointError(["model.safetensors.index.json", "\"t0\"", "model-00002-of-00003.safetensors"]) {
        _ = try SafeTensorsIndex(path: indexURL.path).arrays()
    }

    try AtomicFile.writeJSON(["weight_map": ["t0": "../escape.safetensors"]], to: indexURL)
    expectCheckpointError(["weight_map.t0", "not a file name"]) { _ = try SafeTensorsIndex(path: indexURL.path) }

    try AtomicFile.writeJSON(["weight_map": ["t0": "gone.safetensors"]], to: indexURL)
    expectCheckpointError(["gone.safetensors", "no such file"]) { _ = try SafeTensorsIndex(path: indexURL.path).arrays() }

    try AtomicFile.writeJSON(["metadata": [:] as [String: Any]], to: indexURL)
    expectCheckpointError(["model.safetensors.index.json", "weight_map"]) { _ = try SafeTensorsIndex(path: indexURL.path) }
}
