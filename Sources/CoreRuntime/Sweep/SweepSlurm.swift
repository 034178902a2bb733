import Foundation

/// `hallu sweep FILE --emit slurm`: a Slurm job-array script whose task K runs cell K
/// (`hallu sweep FILE --cell $SLURM_ARRAY_TASK_ID`). `hallu sweep report DIR` aggregates afterwards.
public enum SweepSlurm {
    /// The script text. Paths are made absolute so the job runs from any folder.
    public static func script(plan: SweepPlan, sweepFile: URL, out: URL, folder: SweepFolder, executable: URL,
                              cpusPerTask: Int, time: String) throws -> String {
        guard !plan.cells.isEmpty else { throw HalluError("the sweep has no cells") }
        guard time.range(of: #"^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$"#, options: .regularExpression) != nil else {
            throw HalluError("--time \(time): expected Slurm's format, e.g. 04:00:00 or 1-00:00:00")
        }
        guard cpusPerTask >= 1 else { throw HalluError("--threads: expected at least 1") }
        func q(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let jobName = "hallu-" + plan.name
        var s = "#!/bin/bash\n"
        s += "# Sweep \(plan.name): \(plan.cells.count) cells, one per array task.\n"
        s += "#   submit:     sbatch \(folder.slurm.path)\n"
        s += "#   afterwards: \(executable.path) sweep report \(folder.url.path)\n"
        s += "#   (or chain it: sbatch --dependency=afterany:<job id> --wrap \"\(executable.path) sweep report \(folder.url.path)\")\n"
        s += "#SBATCH --job-name=\(jobName)\n"
        s += "#SBATCH --array=0-\(plan.cells.count - 1)\n"
        s += "#SBATCH --cpus-per-task=\(cpusPerTask)\n"
        s += "#SBATCH --ntasks=1\n"
        s += "#SBATCH --time=\(time)\n"
        s += "#SBATCH --output=\(folder.logs.path)/slurm-%A_%a.out\n"
        s += "set -euo pipefail\n"
        s += "export HALLU_THREADS=\"${SLURM_CPUS_PER_TASK:-\(cpusPerTask)}\"\n"
        s += "exec \(q(executable.path)) sweep \(q(sweepFile.path)) --out \(q(out.path)) --threads \"$HALLU_THREADS\" --cell \"$SLURM_ARRAY_TASK_ID\"\n"
        s += "\n# Cells:\n"
        for c in plan.cells { s += "#   \(c.index)  \(c.id)\n" }
        return s
    }
}
