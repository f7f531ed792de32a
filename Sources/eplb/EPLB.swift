import ArgumentParser
import Foundation

/// `eplb`: expert-parallel load balancing for Mixture-of-Experts serving.
@main
struct EPLB: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eplb",
        abstract: "Expert placement for MoE models served with expert parallelism.",
        discussion: """
        Decides how many replicas each logical expert gets and which device slot holds each \
        replica, so that the busiest device does as little work as possible.

        Exit codes: 0 success; 1 a placement failed validation (eplb validate); 2 bad input \
        (the message names the file, the field and the problem); 64 bad command-line usage.

        Examples:
          eplb solve                  # bundled DeepSeek-V3-shaped example
          eplb solve instance.json --output plan.json
          eplb solve loads.npy --axes lte --devices 32 --slots-per-device 9
          eplb evaluate instance.json --placement plan.json
          eplb validate plan.json --instance instance.json
          eplb rebalance window.json --current deployed.json --max-moves 32
          eplb import-loads dump.json --format sglang --first-moe-layer 3 \\
              --output instance.json
          eplb export plan.json --format sglang --decoder-layers 61 \\
              --output init_expert_location.json
          eplb simulate trace.json --window 64 --interval 64 \\
              --policy none,greedy,search,rebalance --format table
        """,
        version: "0.1.0",
        subcommands: [Solve.self, Rebalance.self, Pareto.self, Simulate.self, Evaluate.self, Validate.self, Reference.self, Example.self,
                      Generate.self, GapReport.self, ImportLoads.self, Export.self, Import.self,
                      ForecastCommand.self, BacktestCommand.self, Drop.self, ShardPlanCommand.self]
    )

    /// Ignores SIGPIPE, so that writing to a pipe whose reader has gone returns `EPIPE` (handled
    /// by ``OutputSink``: the command ends with exit code 2) instead of killing the process.
    static func main() {
        signal(SIGPIPE, SIG_IGN)
        main(nil)
    }
}
