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
            // A regular file is read straight into the byte array (one copy, not two).
            if let bytes = readRegularFile(path) {
                guard !bytes.isEmpty else { throw InputError(file: name, reason: "the file is empty") }
                return bytes
            }
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

/// The bytes of a regular file read with POSIX calls, or `nil` when it is not a regular file or
/// a call fails (the caller then reads it through Foundation, which reports the error).
func readRegularFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    let size = Int(info.st_size)
    var failed = false
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
        var done = 0
        while done < size {
            let n = read(fd, buffer.baseAddress! + done, size - done)
            if n <= 0 {
                if n < 0 && errno == EINTR { continue }
                failed = n < 0
                break
            }
            done += n
        }
        count = done
    }
    return failed || bytes.count != size ? nil : bytes
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
