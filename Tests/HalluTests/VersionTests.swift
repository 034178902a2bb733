import Testing
@testable import CoreRuntime

@Test func abiIsPositive() { #expect(HalluVersion.pluginABI > 0) }
