import Foundation
import Testing
@testable import CoreRuntime
import HalluTestSupport

@Suite struct SweepPlanTests {
    func spec(_ text: String) throws -> SweepSpec {
        try SweepSpec.parse(OrderedJSON.parse(Data(text.utf8), path: "s.json"), path: "s.json", defaultName: "s")
    }

    func errorMessage(_ text: String) -> String {
        do { _ = try SweepPlan.expand(try spec(text), path: "s.json"); return "" } catch let e as HalluError { return e.message } catch { return "\(error)" }
    }

    @Test func gridExpandsInFileOrderWithSeedsInnermost() throws {
        let s = try spec("""
        {"name": "ab", "base": {"preset": "tiny", "steps": 20, "hsadpo.beta": 0.1},
         "grid": {"method": ["hsadpo", "selective-eos+hsadpo"], "lr": [1e-4, 3e-4], "hsadpo.beta": [0.1, 0.5]},
         "seeds": [0, 1]}
        """)
        let plan = try SweepPlan.expand(s, path: "s.json")
        #expect(plan.name == "ab")
        #expect(plan.cells.count == 16)
        #expect(plan.cells.map(\.index) == Array(0..<16))
        // The first axis varies slowest, seeds fastest.
        #expect(plan.cells.prefix(4).map(\.id) == ["hsadpo_lr=0.0001_hsadpo.beta=0.1_s0", "hsadpo_lr=0.0001_hsadpo.beta=0.1_s1",
                                                   "hsadpo_lr=0.0001_hsadpo.beta=0.5_s0", "hsadpo_lr=0.0001_hsadpo.beta=0.5_s1"])
        #expect(plan.cells[15].id == "selective-eos+hsadpo_lr=0.0003_hsadpo.beta=0.5_s1")
        let last = plan.cells[15].config
        #expect(last.method == "selective-eos+hsadpo")
        #expect(last.methodIds == ["selective-eos", "hsadpo"])
        #expect(last.lr == 3e-4)
        #expect(last.methodOptions["hsadpo"]?["beta"] == "0.5")
        #expect(last.steps == 20 && last.preset == "tiny" && last.seed == 1)
        #expect(plan.cells[0].config.methodOptions["hsadpo"]?["beta"] == "0.1")
        #expect(plan.cells[15].label == "selective-eos+hsadpo, lr=0.0003, hsadpo.beta=0.5")
        // Seeds share a configuration key; everything else separates them.
        let confs = plan.configurations
        #expect(confs.count == 8)
        #expect(confs.allSatisfy { $0.cells.count == 2 && plan.cells[$0.cells[0]].seed == 0 && plan.cells[$0.cells[1]].seed == 1 })
        #expect(Set(confs.map(\.key)).count == 8)
        #expect(plan.axes == ["method", "lr", "hsadpo.beta"])
        // Stable keys: the same file gives the same plan.
        #expect(try SweepPlan.expand(s, path: "s.json") == plan)
    }

    @Test func optionsOfMethodsACellDoesNotRunAreDropped() throws {
        let plan = try SweepPlan.expand(try spec("""
        {"base": {"weight.hsadpo": 0.5}, "grid": {"method": ["sft", "hsadpo", "selective-eos+hsadpo"], "hsadpo.beta": [0.1, 0.5]}}
        """), path: "s.json")
        #expect(plan.cells.map(\.id) == ["sft_s0", "hsadpo_hsadpo.beta=0.1_s0", "hsadpo_hsadpo.beta=0.5_s0",
                                         "selective-eos+hsadpo_hsadpo.beta=0.1_s0", "selective-eos+hsadpo_hsadpo.beta=0.5_s0"])
        #expect(plan.cells[0].config.methodOptions.isEmpty && plan.cells[0].config.weights.isEmpty)
        #expect(plan.cells[0].label == "sft")
        #expect(plan.cells[4].config.weights == ["hsadpo": 0.5])
        #expect(plan.cells[4].config.methodOptions == ["hsadpo": ["beta": "0.5"]])
    }

    @Test func listCellsFollowTheGridAndMayFixTheirSeed() throws {
        let plan = try SweepPlan.expand(try spec("""
        {"base": {"method": "hsadpo", "lr": 0.001},
         "grid": {"seed": [3, 4], "lr": [0.001, 0.002]},
         "list": [{"method": "hacl", "weights": {"hacl": 0.5}}, {"method": "sft", "seed": 9},
                  {"method_options": {"hsadpo": {"beta": 0.3}}}]}
        """), path: "s.json")
        #expect(plan.name == "s")
        #expect(plan.cells.map(\.id) == ["hsadpo_lr=0.001_s3", "hsadpo_lr=0.001_s4", "hsadpo_lr=0.002_s3", "hsadpo_lr=0.002_s4",
                                         "hacl_weight.hacl=0.5_s3", "hacl_weight.hacl=0.5_s4", "sft_s9",
                                         "hsadpo_hsadpo.beta=0.3_s3", "hsadpo_hsadpo.beta=0.3_s4"])
        try #require(plan.cells.count == 9)
        #expect(plan.cells[4].config.weights["hacl"] == 0.5)
        #expect(plan.cells[6].seed == 9 && plan.cells[6].config.seed == 9)
        #expect(plan.cells[7].config.methodOptions["hsadpo"]?["beta"] == "0.3")
        // lr=0.001 is the base's value: the grid cell and the base are one configuration.
        #expect(plan.cells[0].key == SweepPlan.configurationKey(plan.cells[0].config))
        #expect(plan.configurations.count == 5)
    }

    @Test func aSweepWithoutGridRunsTheBaseOnce() throws {
        let plan = try SweepPlan.expand(try spec(#"{"base": {"method": "sft", "seed": 5}}"#), path: "s.json")
        #expect(plan.cells.map(\.id) == ["sft_s5"])
    }

    @Test func relativePathsBecomeAbsolute() throws {
        let plan = try SweepPlan.expand(try spec(#"{"base": {"data": "world", "base": "/m/base"}}"#), path: "s.json",
                                        workingDirectory: URL(fileURLWithPath: "/work/here"))
        #expect(plan.cells[0].config.data == "/work/here/world")
        #expect(plan.cells[0].config.base == "/m/base")
    }

    @Test func planFileRoundTrips() throws {
        let plan = try SweepPlan.expand(try spec("""
        {"name": "rt", "grid": {"method": ["sft", "hsadpo"], "hsadpo.beta": [0.1, 0.2]}, "seeds": [0, 7]}
        """), path: "s.json")
        let dir = TestPaths.tempDir("sweep-plan")
        try plan.write(to: dir)
        let back = try SweepPlan.read(from: dir)
        #expect(back == plan)
        let first = try Data(contentsOf: dir.appendingPathComponent("plan.json"))
        try back.write(to: dir)
        #expect(try Data(contentsOf: dir.appendingPathComponent("plan.json")) == first)
    }

    @Test func badSweepFilesNameTheProblem() throws {
        #expect(errorMessage(#"{"gird": {}}"#).contains("unknown key \"gird\" (did you mean \"grid\"?)"))
        #expect(errorMessage(#"{"grid": {"lr": []}}"#).contains("grid \"lr\": expected a non-empty list"))
        #expect(errorMessage(#"{"grid": {"lr": [0.1, 0.1]}}"#).contains("appears twice"))
        #expect(errorMessage(#"{"grid": {"lrr": [0.1]}}"#).contains("unknown key \"lrr\""))
        #expect(errorMessage(#"{"grid": {"lr": ["fast"]}}"#).contains("expected a number"))
        #expect(errorMessage(#"{"base": {"name": "x"}}"#).contains("\"name\" is set by the sweep"))
        #expect(errorMessage(#"{"base": {"steps": null}}"#).contains("null is not a value"))
        #expect(errorMessage(#"{"seeds": [0, -1]}"#).contains("non-negative"))
        #expect(errorMessage(#"{"seeds": [0], "grid": {"seed": [1]}}"#).contains("not both"))
        #expect(errorMessage(#"{"name": "a/b"}"#).contains("must be a folder name"))
        #expect(errorMessage(#"{"list": [{"lr": 0.1}, {"lr": 0.1}]}"#).contains("repeats the run"))
        #expect(errorMessage(#"{"grid": {"lr": [0.1]}"#).contains("s.json:1: malformed JSON"))
        #expect(errorMessage(#"{"grid": [1]}"#).hasPrefix("s.json: "))
    }

    @Test func threadsSplitTheCores() {
        #expect(SweepRunner.threads(cores: 8, jobs: 3) == 2)
        #expect(SweepRunner.threads(cores: 2, jobs: 4) == 1)
        #expect(SweepRunner.threads(cores: 16, jobs: 1) == 16)
    }

    @Test func slurmScriptIsAJobArrayOverCells() throws {
        let plan = try SweepPlan.expand(try spec(#"{"name": "sl", "grid": {"lr": [0.1, 0.2, 0.3]}, "seeds": [0, 1]}"#), path: "s.json")
        let folder = SweepFolder(URL(fileURLWithPath: "/o/sl"))
        let s = try SweepSlurm.script(plan: plan, sweepFile: URL(fileURLWithPath: "/x/s.json"), out: URL(fileURLWithPath: "/o"),
                                      folder: folder, executable: URL(fileURLWithPath: "/bin/hallu"), cpusPerTask: 4, time: "02:00:00")
        #expect(s.hasPrefix("#!/bin/bash\n"))
        #expect(s.contains("#SBATCH --array=0-5\n"))
        #expect(s.contains("#SBATCH --cpus-per-task=4\n"))
        #expect(s.contains("#SBATCH --time=02:00:00\n"))
        #expect(s.contains("exec '/bin/hallu' sweep '/x/s.json' --out '/o' --threads \"$HALLU_THREADS\" --cell \"$SLURM_ARRAY_TASK_ID\"\n"))
        #expect(s.contains("#   5  sft_lr=0.3_s1\n"))
        #expect(throws: HalluError.self) {
            try SweepSlurm.script(plan: plan, sweepFile: URL(fileURLWithPath: "/x"), out: URL(fileURLWithPath: "/o"), folder: folder,
                                  executable: URL(fileURLWithPath: "/h"), cpusPerTask: 1, time: "two hours")
        }
    }
}
