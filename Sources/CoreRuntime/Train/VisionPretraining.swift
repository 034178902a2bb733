import Foundation

/// What each patch of a scene world's training images shows, as a CLIP encoder would see it: the
/// category whose box contains the patch centre, that object's colour and its size ("small",
/// "large", "tiny"), each with an extra class for a patch that shows no object. Read from
/// `scenes.jsonl` and `world.json`.
public struct PatchLabels {
    /// One thing to name per patch: its classes and, per image, the class of every patch.
    public struct Task {
        public let name: String
        /// Label `i < classes.count` names `classes[i]`; `classes.count` is the empty patch.
        public let classes: [String]
        /// `labels[i][p]`: the class of patch `p` (row-major over the patch grid) of image `i`.
        public let labels: [[Int]]
        /// The class of a patch showing no object.
        public var empty: Int { classes.count }
    }

    /// The world's categories; label `i < categories.count` names `categories[i]`.
    public var categories: [String] { tasks[0].classes }
    /// Image paths (relative to the data folder), one per training scene.
    public let images: [String]
    /// The category task first, then colour and size.
    public let tasks: [Task]
    /// `labels[i][p]`: the category class of patch `p` of `images[i]`.
    public var labels: [[Int]] { tasks[0].labels }
    /// The category class of a patch showing no object.
    public var empty: Int { tasks[0].empty }

    /// The sizes scenes.jsonl writes.
    public static let sizes = ["small", "large", "tiny"]

    /// Labels of the `split` scenes of a world folder for a `patchSize` grid over `imageSize` pixels.
    /// Throws naming the file and line of a malformed scene.
    public static func load(dataDir: URL, imageSize: Int, patchSize: Int, split: String = "train") throws -> PatchLabels {
        let worldPath = dataDir.appendingPathComponent(SceneWorld.Files.world).path
        guard let world = try JSONFiles.readJSON(worldPath) as? [String: Any] else {
            throw HalluError.file(worldPath, "is not a JSON object")
        }
        func names(_ key: String) throws -> [String] {
            guard let list = world[key] as? [String], !list.isEmpty else {
                throw HalluError.file(worldPath, "key \"\(key)\" is missing or not a list of names")
            }
            return list
        }
        let classes = [try names("categories"), try names("colors"), sizes]
        let keys = ["category", "color", "size"]
        let index = classes.map { Dictionary($0.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a }) }
        let scenesPath = dataDir.appendingPathComponent(SceneWorld.Files.scenes).path
        let grid = imageSize / patchSize
        var images: [String] = [], labels: [[[Int]]] = Array(repeating: [], count: keys.count)
        for (line, scene) in try JSONFiles.readJSONLines(scenesPath) where (scene["split"] as? String) == split {
            func bad(_ why: String) -> HalluError { HalluError.file(scenesPath, line: line, why) }
            guard let image = scene["image"] as? String, let objects = scene["objects"] as? [[String: Any]] else {
                throw bad("a scene needs \"image\" and \"objects\"")
            }
            var patches = classes.map { [Int](repeating: $0.count, count: grid * grid) }
            for o in objects {
                let values = try keys.indices.map { k -> Int in
                    guard let name = o[keys[k]] as? String, let c = index[k][name] else {
                        throw bad("object \(keys[k]) \(o[keys[k]] ?? "nil") is not one of \(classes[k].joined(separator: ", "))")
                    }
                    return c
                }
                guard let box = o["box"] as? [Int], box.count == 4 else { throw bad("object \"box\" must be [x, y, w, h]") }
                for gy in 0..<grid { for gx in 0..<grid {
                    let cx = gx * patchSize + patchSize / 2, cy = gy * patchSize + patchSize / 2
                    guard cx >= box[0] && cx < box[0] + box[2] && cy >= box[1] && cy < box[1] + box[3] else { continue }
                    for k in keys.indices { patches[k][gy * grid + gx] = values[k] }
                } }
            }
            images.append(image)
            for k in keys.indices { labels[k].append(patches[k]) }
        }
        guard !images.isEmpty else { throw HalluError.file(scenesPath, "no \(split) scenes") }
        return PatchLabels(images: images, tasks: keys.indices.map { Task(name: keys[$0], classes: classes[$0], labels: labels[$0]) })
    }
}

/// Pretrains a LLaVA vision tower to name the object under every patch, its colour and its size,
/// before any language training. LLaVA starts from a CLIP encoder that already tells objects and
/// their attributes apart; a tower trained from scratch on a world's captions alone learns the scene
/// and colours but not which glyph is which, and the language model then answers yes/no questions
/// from the scene prior (docs/RESULTS.md). A tower trained on categories alone drops the colours,
/// which the descriptions need. One linear head per task over the tower's feature layer is trained
/// with it (the losses summed) and then discarded.
public struct VisionPretraining {
    public var steps = 600
    public var batchSize = 128
    public var lr = 2e-3
    public var weightDecay = 0.01
    public var warmupSteps = 20
    public var seed: UInt64 = 0

    public init() {}

    /// The final training loss and the patch accuracy of each task on object patches (over the last
    /// 50 steps): `objectAccuracy` for the category, `attributeAccuracy` by task name.
    public struct Outcome {
        public var loss: Double
        public var objectAccuracy: Double
        public var attributeAccuracy: [String: Double] = [:]
    }

    /// Trains `model`'s vision tower in place on `labels` and returns how well it names patches.
    public func run(_ model: LlavaModel, labels: PatchLabels, images: ImageStore, log: (String) -> Void = { _ in }) throws -> Outcome {
        let tower = model.visionTower, patches = tower.patchesPerImage
        guard labels.labels.allSatisfy({ $0.count == patches }) else {
            throw HalluError("vision pretraining: labels have \(labels.labels.first?.count ?? 0) patches, the tower \(patches)")
        }
        var rng = SeededRNG(seed: seed &+ 0x5EED)
        let heads = labels.tasks.map { Linear(tower.config.hiddenSize, $0.classes.count + 1, rng: &rng) }
        let params = tower.namedParameters().map(\.1) + heads.flatMap { $0.namedParameters().map(\.1) }
        for p in params { p.requiresGrad = true }
        let optimizer = try AdamW(groups: [ParamGroup(name: "vision", params: params, lr: Float(lr), weightDecay: Float(weightDecay))])
        let update = TrainingStep(optimizer: optimizer, parameters: params, clip: 1)
        let schedule = LRSchedule.cosine(minRatio: 0.1)
        var order = Array(labels.images.indices), cursor = order.count
        var recentLoss: [Double] = []
        var hits = [Int](repeating: 0, count: heads.count), objects = 0
        for step in 1...steps {
            var batch: [Int] = []
            while batch.count < batchSize {
                if cursor == order.count { rng.shuffle(&order); cursor = 0 }
                batch.append(order[cursor]); cursor += 1
            }
            guard let pixels = try images.batch(batch.map { labels.images[$0] }) else { break }
            var loss: Tensor? = nil, logits: [Tensor] = [], targets: [[Int]] = []
            try update.run(lrScale: schedule.factor(step: step, totalSteps: steps, warmupSteps: warmupSteps),
                           context: { " at vision pretraining step \(step)" }) { _ in
                let features = try model.visionFeatures(pixels).reshaped([batch.count * patches, -1])   // [B*P, D]
                for (task, head) in zip(labels.tasks, heads) {
                    let z = try head(features), t = batch.flatMap { task.labels[$0] }
                    let l = try Tensor.crossEntropy(z, targets: t)
                    loss = try loss.map { try $0 + l } ?? l
                    logits.append(z)
                    targets.append(t)
                }
                guard let loss else { throw HalluError("vision pretraining: no task to train") }
                return loss
            }
            guard let loss else { break }
            if step > steps - 50 {
                recentLoss.append(Double(loss.item))
                let predictions = logits.map { $0.argmaxLastAxis() }
                for i in targets[0].indices where targets[0][i] != labels.empty {
                    objects += 1
                    for k in targets.indices where predictions[k][i] == targets[k][i] { hits[k] += 1 }
                }
            }
            if step % 100 == 0 || step == steps { log("vision pretraining step \(step)/\(steps): loss \(String(format: "%.4f", loss.item))") }
        }
        model.zeroGrad()
        TensorMemory.releaseFreeMemory()
        let accuracy = hits.map { Double($0) / Double(max(objects, 1)) }
        return Outcome(loss: recentLoss.reduce(0, +) / Double(max(recentLoss.count, 1)), objectAccuracy: accuracy[0],
                       attributeAccuracy: Dictionary(uniqueKeysWithValues: zip(labels.tasks.map(\.name), accuracy).dropFirst()))
    }
}
