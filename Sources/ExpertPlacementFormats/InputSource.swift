import Foundation

/// Reads the bytes of an input file, or of standard input when the path is `-`.
public enum InputSource {
    /// The display name for a path (`<stdin>` for `-`).
    public static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    /// All bytes of `path` (`-` reads standard input to its end).
    ///
    /// - Throws: ``InputError`` when the file cannot be read or is empty.
    public static func read(_ path: String) throws(InputError) -> [UInt8] {
        let name = displayName(path)
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw InputError(file: name, reason: "no such file")
            }
            guard !isDirectory.boolValue else { throw InputError(file: name, reason: "is a directory, not a file") }
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: path))
            } catch {
                throw InputError(file: name, reason: "cannot be read (\(error.localizedDescription))")
            }
        }
        guard !data.isEmpty else { throw InputError(file: name, reason: "the file is empty") }
        return [UInt8](data)
    }
}

/// Writes output files whole or not at all.
public enum OutputSink {
    /// Writes `text` to `path` atomically (a temporary file renamed into place), so that a failure
    /// never leaves a half-written file; `-` writes to standard output.
    ///
    /// - Throws: ``InputError`` (naming the output file) when the file cannot be written.
    public static func write(_ text: String, to path: String) throws(InputError) {
        try write(Data(text.utf8), to: path)
    }

    /// Writes binary `bytes` (a `.npy` file, say) to `path` atomically, like the text overload,
    /// without copying them first.
    ///
    /// - Throws: ``InputError`` (naming the output file) when the file cannot be written.
    public static func write(_ bytes: [UInt8], to path: String) throws(InputError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(InputError) in
                let data = raw.isEmpty ? Data()
                    : Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: raw.baseAddress!), count: raw.count, deallocator: .none)
                try write(data, to: path)
            }
        }
        try result.get()
    }

    private static func write(_ data: Data, to path: String) throws(InputError) {
        if path == "-" {
            FileHandle.standardOutput.write(data)
            return
        }
        do {
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw InputError(file: path, reason: "cannot be written (\(error.localizedDescription))")
        }
    }
}
