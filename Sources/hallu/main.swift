import CoreRuntime
print("hallu \(HalluVersion.string)")
