import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Test func gzipReadsSharedGroundTruth() throws {
    let any = try JSONFiles.readJSON(TestPaths.data("CHAIR-metric-standalone/chair_imid_to_objects.json.gz"))
    let dict = try #require(any as? [String: Any])
    #expect(dict.count == 123_287)
}

@Test func jsonLinesErrorNamesLine() throws {
    let dir = TestPaths.tempDir()
    let f = dir.appendingPathComponent("bad.jsonl")
    try AtomicFile.write("{\"a\": 1}\n{oops}\n", to: f)
    #expect(throws: HalluError.self) { try JSONFiles.readJSONLines(f.path) }
    do { _ = try JSONFiles.readJSONLines(f.path) } catch let e as HalluError {
        #expect(e.message.contains("bad.jsonl:2:"))
    }
}
