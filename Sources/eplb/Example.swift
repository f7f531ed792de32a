import ArgumentParser
import Foundation
import ExpertPlacement
import ExpertPlacementFormats

struct Example: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a bundled example instance as instance JSON v1.",
        discussion: """
        Examples:
          eplb example --list
          eplb example flashlb-toy
          eplb example deepseek-v3 --output v3.json
        """
    )

    @Argument(help: ArgumentHelp("The example: \(BundledExample.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "name"))
    var name: String?

    @Flag(help: "List the examples.")
    var list = false

    @Option(help: ArgumentHelp("Write to FILE instead of standard output.", valueName: "file"))
    var output: String?

    func validate() throws {
        if !list {
            guard let name else { throw ValidationError("name an example, or use --list") }
            if BundledExample(rawValue: name) == nil {
                throw ValidationError("unknown example '\(name)'; choose one of: \(BundledExample.allCases.map(\.rawValue).joined(separator: ", "))")
            }
        }
    }

    func run() throws {
        try reportingInputErrors {
            if list {
                let width = BundledExample.allCases.map(\.rawValue.count).max() ?? 0
                let text = BundledExample.allCases.map {
                    $0.rawValue.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.summary
                }.joined(separator: "\n") + "\n"
                try OutputSink.write(text, to: output ?? "-")
                return
            }
            let example = BundledExample(rawValue: name!)!
            try OutputSink.write(JSONWriter.string(InstanceFile.encode(example.problem, name: example.rawValue)),
                                 to: output ?? "-")
        }
    }
}
