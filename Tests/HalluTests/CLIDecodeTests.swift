import Foundation
import Testing
@testable import CoreRuntime

private func run(_ extra: [String]) throws -> HalluCLI.Result {
    try HalluCLI.run(["generate", "--model", try CLIFixtures.checkpoint().path, "--image", try CLIFixtures.image().path,
                      "--prompt", CLIFixtures.prompt, "--max-new-tokens", "8", "--json"] + extra)
}

@Test func cliDecodeRunsADecodingPluginAndRejectsBadInput() throws {
    let vcd = try run(["--decode", "vcd", "--set", "vcd.alpha=0.5"])
    #expect(vcd.status == 0, "\(vcd.stderr)")
    #expect(((try vcd.object())["ids"] as? [Int])?.isEmpty == false)

    let unknown = try run(["--decode", "vdc"])
    #expect(unknown.status != 0 && unknown.stderr.contains("unknown decoding method \"vdc\"")
            && unknown.stderr.contains("Did you mean \"vcd\"") && unknown.stderr.contains("m3id") && unknown.stderr.contains("dola"))
    let option = try run(["--decode", "vcd", "--set", "vcd.alfa=1"])
    #expect(option.status != 0 && option.stderr.contains("unknown option \"alfa\"") && option.stderr.contains("alpha, beta, noise_step"))
    let range = try run(["--decode", "vcd", "--set", "vcd.beta=2"])
    #expect(range.status != 0 && range.stderr.contains("vcd.beta"))
    let other = try run(["--decode", "vcd", "--set", "m3id.lambda=1"])
    #expect(other.status != 0 && other.stderr.contains("--decode is \"vcd\""))
    let orphan = try run(["--set", "vcd.alpha=1"])
    #expect(orphan.status != 0 && orphan.stderr.contains("give --decode vcd"))
    let beam = try run(["--decode", "dola", "--num-beams", "3"])
    #expect(beam.status != 0 && beam.stderr.contains("dola is defined for greedy decoding and sampling only"))
}
