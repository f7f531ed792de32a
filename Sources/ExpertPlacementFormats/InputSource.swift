import Foundation
internal import ExpertPlacement

/// Reads the bytes of an input file, or of standard input when the path is `-`.
///
/// Any readable file works: a regular file (read in one pass of known size), or a stream — a
/// named pipe, a process substitution (`<(zcat trace.json.gz)`, which is `/dev/fd/N`), a terminal,
/// a character device such as `/dev/null` — read with POSIX `read` until its end. Every failure is
/// an ``InputError`` naming the file; nothing here traps.
public enum InputSource {
    /// The display name for a path (`<stdin>` for `-`).
    public static func displayName(_ path: String) -> String { path == "-" ? "<stdin>" : path }

    /// All bytes of `path` (`-` reads standard input to its end).
    ///
    /// Opening a named pipe waits for its writer, as `cat` does.
    ///
    /// - Throws: ``InputError`` when the file cannot be opened or read, is a directory, or is
    ///   empty.
    public static func read(_ path: String) throws(InputError) -> [UInt8] {
        let name = displayName(path)
        let bytes: [UInt8]
        if path == "-" {
            bytes = try readAll(STDIN_FILENO, name: name)
        } else {
            var fd: Int32
            repeat { fd = open(path, O_RDONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
            guard fd >= 0 else { throw InputError(file: name, reason: openFailure(errno)) }
            defer { close(fd) }
            bytes = try readAll(fd, name: name)
        }
        guard !bytes.isEmpty else { throw InputError(file: name, reason: "the file is empty") }
        return bytes
    }

    /// Every byte readable from `fd`: a regular file in one read of its size (one copy), anything
    /// else in chunks until end of file.
    static func readAll(_ fd: Int32, name: String) throws(InputError) -> [UInt8] {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw InputError(file: name, reason: "cannot be read (\(errorText(errno)))") }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            throw InputError(file: name, reason: "is a directory, not a file")
        case S_IFREG where info.st_size > 0:
            guard UInt64(info.st_size) <= memoryLimit else { throw tooLarge(name) }
            return try readRegular(fd, size: Int(info.st_size), name: name)
        default:
            // Pipes, sockets, terminals, character devices — and regular files that report size
            // 0 but have content (some /proc files).
            return try readStream(fd, name: name)
        }
    }

    /// A regular file of `size` bytes; a file that shrank meanwhile gives what was there, one
    /// that grew is read on to its end.
    private static func readRegular(_ fd: Int32, size: Int, name: String) throws(InputError) -> [UInt8] {
        var failure: Int32 = 0
        var bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            HugePages.advise(UnsafeMutableRawBufferPointer(buffer))
            var done = 0
            while done < size {
                let n = Foundation.read(fd, buffer.baseAddress! + done, size - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }
                done += n
            }
            count = done
        }
        guard failure == 0 else { throw InputError(file: name, reason: "cannot be read (\(errorText(failure)))") }
        if bytes.count == size {
            let rest = try readStream(fd, name: name)
            if !rest.isEmpty { bytes.append(contentsOf: rest) }
        }
        return bytes
    }

    /// Reads `fd` to its end in 1 MiB chunks.
    private static func readStream(_ fd: Int32, name: String) throws(InputError) -> [UInt8] {
        let chunk = 1 << 20
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 16)
        defer { scratch.deallocate() }
        var bytes: [UInt8] = []
        while true {
            let n = Foundation.read(fd, scratch.baseAddress!, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw InputError(file: name, reason: "cannot be read (\(errorText(errno)))")
            }
            if n == 0 { return bytes }
            guard UInt64(bytes.count + n) <= memoryLimit else { throw tooLarge(name) }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
        }
    }

    /// The most bytes an input may have: half the machine's memory, since decoding needs room
    /// beside the bytes (a larger file, or an endless stream such as `/dev/zero`, is refused
    /// instead of aborting the process when an allocation fails).
    static var memoryLimit: UInt64 { ProcessInfo.processInfo.physicalMemory / 2 }

    static func tooLarge(_ name: String) -> InputError {
        InputError(file: name, reason: "is larger than half of this machine's memory (\(memoryLimit >> 20) MiB): too large to read")
    }

    /// The message for a failed `open` of an input file.
    static func openFailure(_ code: Int32) -> String {
        switch code {
        case ENOENT: return "no such file"
        case EACCES, EPERM: return "cannot be read (permission denied)"
        case ENOTDIR: return "no such file (a part of the path is not a directory)"
        case ELOOP: return "cannot be read (too many levels of symbolic links)"
        case ENXIO: return "cannot be read (a socket or a device that is not there)"
        default: return "cannot be read (\(errorText(code)))"
        }
    }
}

/// `strerror(code)` as a Swift string.
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
