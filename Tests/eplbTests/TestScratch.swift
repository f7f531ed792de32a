import Foundation

/// The one scratch directory of a test process: every file the CLI tests write goes under
/// `$TMPDIR/eplb-tests-<pid>/`, which is removed when the process exits, so a test run leaves
/// nothing behind in the temporary directory (a run used to leave a few hundred files).
enum TestScratch {
    /// The directory, created on first use; removed at exit.
    static let root: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("eplb-tests-\(getpid())-scratch")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        removeAtExit = url.path
        atexit {
            if let path = TestScratch.removeAtExit { try? FileManager.default.removeItem(atPath: path) }
        }
        return url
    }()

    /// The path the exit handler removes (set once, when ``root`` is first used).
    nonisolated(unsafe) static var removeAtExit: String? = nil
}
