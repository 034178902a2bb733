import Foundation

/// What each patch of a scene world's training images shows: the category whose box contains the
/// patch centre, or `empty`. Read from `scenes.jsonl` and `world.json`.
public struct PatchLabels {
    /// The world's categories; label `i < categories.count` names `categories[i]`.
    public let categories: [String]
    /// Image paths (relative to the data folder), one per training scene.
    public let images: [String]
    /// `labels[i][p]`: the class of patch `p` (row-major over the patch grid) of `images[i]`.
    public let labels: [[Int]]

    /// The class of a patch showing no object.
    public var empty: Int { categories.count }

    /// Labels of the `split` scenes of a world folder for a `patchSize` grid over `imageSize` pixels.
    /// Throws naming the file and line of a malformed scene.
    public static func load(dataDir: URL, imageSize: Int, patchSize: Int, split: String = "train") throws -> PatchLabels {
        let worldPath = dataDir.appendingPathComponent(SceneWorld.Files.world).path
        guard let world = try JSONFiles.readJSON(worldPath) as? [String: Any],
              let categories = world["categories"] as? [String], !categories.isEmpty else {
            throw HalluError.file(worldPath, "key \"categories\" is missing or not a list of names")
        }
        let index = Dictionary(categories.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let scenesPath = dataDir.appendingPathComponent(SceneWorld.Files.scenes).path
        let grid = imageSize / patchSize
        var images: [String] = [], labels: [[Int]] = []
        for (line, scene) in try JSONFiles.readJSONLines(scenesPath) where (scene["split"] as? String) == split {
            func bad(_ why: String) -> HalluError { HalluError.file(scenesPath, line: line, why) }
            guard let image = scene["image"] as? String, let objects = scene["objects"] as? [[String: Any]] else {
                throw bad("a scene needs \"image\" and \"objects\"")
            }
            var patches = [Int](repeating: categories.count, count: grid * grid)
            for o in objects {
                guard let name = o["category"] as? String, let c = index[name] else {
                    throw bad("object category \(o["category"] ?? "nil") is not in world.json's categories")
                }
                guard let box = o["box"] as? [Int], box.count == 4 else { throw bad("object \"box\" must be [x, y, w, h]") }
                for gy in 0..<grid { for gx in 0..<grid {
                    let cx = gx * patchSize + patchSize / 2, cy = gy * patchSize + patchSize / 2
                    if cx >= box[0] && cx < box[0] + box[2] && cy >= box[1] && cy < box[1] + box[3] { patches[gy * grid + gx] = c }
                } }
            }
            images.append(image)
            labels.append(patches)
        }
        guard !images.isEmpty else { throw HalluError.file(scenesPath, "no \(split) scenes") }
        return PatchLabels(categories: categories, images: images, labels: labels)
    }
}

/// Pretrains a LLaVA vision tower to name the object under every patch, before any language
/// training. LLaVA starts from a CLIP encoder that already tells objects apart; a tower trained from
/// scratch on a world's captions alone learns the scene and colours but not which glyph is which,
/// and the language model then answers yes/no questions from the scene prior (docs/RESULTS.md).
/// A linear head over the tower's feature layer is trained with it and then discarded.
public struct VisionPretraining {
    public var steps = 600
    public var batchSize = 128
    public var lr = 2e-3
    public var weightDecay = 0.01
    public var warmupSteps = 20
    public var seed: UInt64 = 0

    public init() {}

    /// The final training loss and the patch accuracy on object patches (over the last 50 steps).
    public struct Outcome { public var loss: Double; public var objectAccuracy: Double }

    /// Trains `model`'s vision tower in place on `labels` and returns how well it names patches.
    public func run(_ model: LlavaModel, labels: PatchLabels, images: ImageStore, log: (String) -> Void = { _ in }) throws -> Outcome {
        let tower = model.visionTower, patches = tower.patchesPerImage
        guard labels.labels.allSatisfy({ $0.count == patches }) else {
            throw HalluError("vision pretraining: labels have \(labels.labels.first?.count ?? 0) patches, the tower \(patches)")
        }
        var rng = SeededRNG(seed: seed &+ 0x5EED)
        let head = Linear(tower.config.hiddenSize, labels.categories.count + 1, rng: &rng)
        let params = tower.namedParameters().map(\.1) + head.namedParameters().map(\.1)
        for p in params { p.requiresGrad = true }
        let optimizer = try AdamW(groups: [ParamGroup(name: "vision", params: params, lr: Float(lr), weightDecay: Float(weightDecay))])
        let schedule = LRSchedule.cosine(minRatio: 0.1)
        var order = Array(labels.images.indices), cursor = order.count
        var recentLoss: [Double] = [], hits = 0, objects = 0
        for step in 1...steps {
            var batch: [Int] = []
            while batch.count < batchSize {
                if cursor == order.count { rng.shuffle(&order); cursor = 0 }
                batch.append(order[cursor]); cursor += 1
            }
            guard let pixels = try images.batch(batch.map { labels.images[$0] }) else { break }
            let features = try model.visionFeatures(pixels)            // [B, P, D]
            let logits = try head(features.reshaped([batch.count * patches, -1]))
            let targets = batch.flatMap { labels.labels[$0] }
            let loss = try Tensor.crossEntropy(logits, targets: targets)
            model.zeroGrad(); head.zeroGrad()
            try loss.backward()
            _ = clipGradNorm(params, maxNorm: 1)
            try optimizer.step(lrScale: schedule.factor(step: step, totalSteps: steps, warmupSteps: warmupSteps))
            if step > steps - 50 {
                recentLoss.append(Double(loss.item))
                for (p, t) in zip(logits.argmaxLastAxis(), targets) where t != labels.empty { objects += 1; if p == t { hits += 1 } }
            }
            if step % 100 == 0 || step == steps { log("vision pretraining step \(step)/\(steps): loss \(String(format: "%.4f", loss.item))") }
        }
        model.zeroGrad()
        return Outcome(loss: recentLoss.reduce(0, +) / Double(max(recentLoss.count, 1)),
                       objectAccuracy: Double(hits) / Double(max(objects, 1)))
    }
}
