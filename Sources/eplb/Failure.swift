import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import Foundation

/// Runs a command body; bad input becomes one line on stderr and exit code 2, with nothing on stdout.
func reportingInputErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as InputError {
        printError(error.description)
        throw ExitCode(2)
    } catch let error as ExpertPlacementError {
        printError(error.description)
        throw ExitCode(2)
    } catch let error as JSONWriter.NonFiniteNumber {
        // The result cannot be written as JSON: one line, exit 2, nothing written.
        printError("the result is not representable: \(error)")
        throw ExitCode(2)
    }
}

/// Writes `eplb: error: MESSAGE` to standard error.
func printError(_ message: String) {
    FileHandle.standardError.write(Data("eplb: error: \(message)\n".utf8))
}
