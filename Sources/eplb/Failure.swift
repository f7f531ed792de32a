import ArgumentParser
import ExpertPlacement
import ExpertPlacementFormats
import Foundation

/// Runs a command body; bad input becomes one line on stderr and exit code 2, with nothing on stdout.
///
/// An output that cannot be written (a full disk, `/dev/full`, a permission problem) is reported
/// the same way. When the reader of standard output closes the pipe early (`eplb solve | head`),
/// the command ends with exit code 2 and no message: the reader chose to stop reading.
func reportingInputErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as InputError {
        if error.reason != OutputSink.brokenPipeReason { printError(error.description) }
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

/// Writes `eplb: error: MESSAGE` to standard error, on one line, with control characters from
/// input files (file names, quoted values) shown as `\u{…}` escapes.
func printError(_ message: String) {
    writeStandardError("eplb: error: \(TerminalText.sanitized(message))\n")
}

/// Prints `eplb: warning: MESSAGE` on standard error: the command goes on.
func printWarning(_ message: String) {
    writeStandardError("eplb: warning: \(TerminalText.sanitized(message))\n")
}

/// Writes `text` to standard error with POSIX `write`; a failure (a closed or full stderr) is
/// ignored, since there is nowhere left to report it.
func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { utf8 in
        var p = UnsafeRawPointer(utf8.baseAddress)
        var left = utf8.count
        while left > 0, let q = p {
            let n = write(STDERR_FILENO, q, left)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            p = q + n
            left -= n
        }
    }
}
