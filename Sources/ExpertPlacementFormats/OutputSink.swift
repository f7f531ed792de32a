import Foundation

/// Writes output files whole or not at all, and never replaces anything but a regular file.
///
/// What `write(_:to:)` does with the path it is given:
/// - `-`, `/dev/stdout`, `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`: writes to that open file
///   descriptor directly (so `--output /dev/stdout >> log` appends, as the shell arranged).
/// - a regular file, or a symbolic link (chain) to one: writes a temporary file in the *target's*
///   directory, gives it the target's permission bits (and, when run as root, its owner), and
///   renames it over the resolved target, so the link stays a link and readers see either the
///   old or the new file, never a half-written one.
/// - a path that does not exist: the same, with permissions `0666` less the umask.
/// - a named pipe or a character device (`/dev/null`, a terminal): opened and written directly,
///   never replaced (opening a pipe waits for its reader, as `cat > fifo` does).
/// - a directory, a block device, a socket, or a symbolic link whose target is missing: refused.
///
/// While the temporary file exists, SIGINT, SIGTERM and SIGHUP remove it before the process
/// ends with the signal's usual effect (a signal the process ignores stays ignored).
///
/// Every failure — a full disk (`ENOSPC`), a closed pipe (`EPIPE`), a permission problem —
/// throws ``InputError`` naming the output; nothing here traps. `EPIPE` on standard output
/// throws with the reason ``brokenPipeReason``, so a command-line tool can end quietly when the
/// reader of its output (`| head`) has stopped reading. Writing to a closed pipe raises SIGPIPE
/// unless the process ignores it: a tool that wants the error instead of the signal sets
/// `signal(SIGPIPE, SIG_IGN)` (`eplb` does).
public enum OutputSink {
    /// The reason of the error thrown when the reader of standard output closed the pipe.
    public static let brokenPipeReason = "cannot be written: the reader closed the pipe"

    /// Writes `text` (UTF-8) to `path`; `-` writes to standard output.
    ///
    /// - Throws: ``InputError`` (naming the output file) when it cannot be written.
    public static func write(_ text: String, to path: String) throws(InputError) {
        var text = text
        let result = text.withUTF8 { utf8 in
            Result { () throws(InputError) in try write(UnsafeRawBufferPointer(utf8), to: path) }
        }
        try result.get()
    }

    /// Writes binary `bytes` (a `.npy` file, say) to `path` like the text overload, without
    /// copying them first.
    ///
    /// - Throws: ``InputError`` (naming the output file) when it cannot be written.
    public static func write(_ bytes: [UInt8], to path: String) throws(InputError) {
        let result = bytes.withUnsafeBytes { raw in
            Result { () throws(InputError) in try write(raw, to: path) }
        }
        try result.get()
    }

    private static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws(InputError) {
        switch try target(path) {
        case .descriptor(let fd, let name):
            let code = writeAll(fd, bytes)
            if code == EPIPE && fd == STDOUT_FILENO { throw InputError(file: name, reason: brokenPipeReason) }
            if code != 0 { throw InputError(file: name, reason: "cannot be written (\(errorText(code)))") }
        case .newFile:
            let mask = umask(0)
            umask(mask)
            try replaceAtomically(path, with: bytes, mode: 0o666 & ~mask, owner: nil, shownAs: path)
        case .regularFile(let resolved, let info):
            try replaceAtomically(resolved, with: bytes, mode: info.st_mode & 0o7777,
                                  owner: (info.st_uid, info.st_gid), shownAs: path)
        case .stream:
            try writeDirectly(path, bytes)
        }
    }

    /// Checks, without writing anything, that `write(_:to:)` could put a file at
    /// `path`: the same refusals (a directory, a block device, a dangling link, …), and for a
    /// file to be created or replaced a directory that exists and may be written. A command
    /// that writes several files (or state beside its output) checks them all first, so that
    /// a bad path leaves nothing half-done. Space and races are not checked.
    ///
    /// - Throws: ``InputError`` naming the output, with the reason `write` would give.
    public static func checkWritable(_ path: String) throws(InputError) {
        let file: String
        switch try target(path) {
        case .descriptor, .stream: return
        case .newFile: file = path
        case .regularFile(let resolved, _): file = resolved
        }
        let directory = file.lastIndex(of: "/").map { String(file[...$0]) } ?? "./"
        if access(directory, W_OK | X_OK) != 0 {
            throw InputError(file: path, reason: "cannot be written (\(errorText(errno)))")
        }
    }

    /// Writes several files as one output (an engine's map set, a report and its table): each
    /// path is checked with ``checkWritable(_:)`` before any is written, so that a bad path leaves
    /// none of them half replaced.
    ///
    /// - Throws: ``InputError`` naming the first output that cannot be written.
    public static func write(files: [(path: String, bytes: [UInt8])]) throws(InputError) {
        for file in files { try checkWritable(file.path) }
        for file in files { try write(file.bytes, to: file.path) }
    }

    /// What a path names, as `write(_:to:)` treats it.
    private enum Target {
        case descriptor(Int32, name: String)
        case newFile
        case regularFile(resolved: String, stat)
        case stream
    }

    private static func target(_ path: String) throws(InputError) -> Target {
        if let fd = openDescriptor(path) {
            return .descriptor(fd, name: path == "-" || path == "/dev/stdout" ? "<stdout>" : path)
        }
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            var link = stat()
            if code == ENOENT && lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK {
                throw InputError(file: path, reason: "cannot be written: a symbolic link whose target is missing")
            }
            guard code == ENOENT else { throw InputError(file: path, reason: "cannot be written (\(errorText(code)))") }
            return .newFile
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            guard let resolved = realpath(path, nil) else {
                throw InputError(file: path, reason: "cannot be written (\(errorText(errno)))")
            }
            defer { free(resolved) }
            return .regularFile(resolved: String(cString: resolved), info)
        case S_IFIFO, S_IFCHR:
            return .stream
        case S_IFDIR:
            throw InputError(file: path, reason: "is a directory, not a file")
        case S_IFBLK:
            throw InputError(file: path, reason: "is a block device: eplb writes regular files, pipes and character devices only")
        default:
            throw InputError(file: path, reason: "is not a regular file, a pipe or a character device: not written")
        }
    }

    /// The descriptor a path names directly (`-`, `/dev/stdout`, `/dev/fd/N`, …), or `nil`.
    private static func openDescriptor(_ path: String) -> Int32? {
        switch path {
        case "-", "/dev/stdout": return STDOUT_FILENO
        case "/dev/stderr": return STDERR_FILENO
        default:
            for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
                if let n = Int32(path.dropFirst(prefix.count)), n >= 0, fcntl(n, F_GETFD) != -1 { return n }
            }
            return nil
        }
    }

    /// Writes into an existing pipe or character device without truncating or replacing it.
    private static func writeDirectly(_ path: String, _ bytes: UnsafeRawBufferPointer) throws(InputError) {
        var fd: Int32
        repeat { fd = open(path, O_WRONLY | O_CLOEXEC) } while fd < 0 && errno == EINTR
        guard fd >= 0 else { throw InputError(file: path, reason: "cannot be written (\(errorText(errno)))") }
        let code = writeAll(fd, bytes)
        let closed = close(fd) == 0 ? 0 : errno
        if code != 0 || closed != 0 {
            throw InputError(file: path, reason: "cannot be written (\(errorText(code != 0 ? code : closed)))")
        }
    }

    /// Writes `bytes` to a new temporary file beside `target` and renames it over `target`.
    private static func replaceAtomically(_ target: String, with bytes: UnsafeRawBufferPointer, mode: mode_t,
                                          owner: (uid_t, gid_t)?, shownAs name: String) throws(InputError) {
        let slash = target.lastIndex(of: "/")
        let directory = slash.map { String(target[...$0]) } ?? ""
        let base = slash.map { String(target[target.index(after: $0)...]) } ?? target
        let temporary = TemporaryFileGuard.shared
        var fd: Int32 = -1
        for _ in 0..<16 {
            let suffix = String((0..<12).map { _ in Self.alphabet.randomElement()! })
            let candidate = "\(directory).\(base.prefix(200)).eplb-\(suffix)"
            guard temporary.arm(candidate) else {
                throw InputError(file: name, reason: "cannot be written (the path is too long)")
            }
            repeat { fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600) } while fd < 0 && errno == EINTR
            if fd >= 0 { break }
            let code = errno
            temporary.disarm()
            guard code == EEXIST else {
                throw InputError(file: name, reason: "cannot be written (\(errorText(code)))")
            }
        }
        guard fd >= 0 else { throw InputError(file: name, reason: "cannot be written (no free temporary file name)") }
        var code = writeAll(fd, bytes)
        if code == 0, fchmod(fd, mode) != 0 { code = errno }
        if code == 0, let (uid, gid) = owner, geteuid() == 0, uid != 0 || gid != 0 {
            _ = fchown(fd, uid, gid)  // best effort: keep a root-run rewrite owned by the file's owner
        }
        if close(fd) != 0, code == 0 { code = errno }
        if code == 0, rename(temporary.path, target) != 0 { code = errno }
        if code != 0 { unlink(temporary.path) }
        temporary.disarm()
        if code != 0 { throw InputError(file: name, reason: "cannot be written (\(errorText(code)))") }
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
}

/// Writes every byte, retrying short writes and `EINTR`; returns 0 or the failing `errno`.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32 {
    guard var p = bytes.baseAddress else { return 0 }
    var left = bytes.count
    while left > 0 {
        let n = Foundation.write(fd, p, Swift.min(left, 1 << 30))
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        if n == 0 { return EIO }
        p += n
        left -= n
    }
    return 0
}

// MARK: - Removing the temporary file on a signal

/// The path of the temporary file being written, in memory a signal handler may read, and the
/// handlers that remove it on SIGINT, SIGTERM or SIGHUP.
///
/// The path lives in a fixed C buffer allocated once; `armed` is set before the file is created
/// (so no instant exists where the file is there and the handler does not know it) and cleared
/// after it is renamed or removed. The handler only calls `unlink`, `sigaction` and `raise`,
/// which are async-signal-safe.
final class TemporaryFileGuard: @unchecked Sendable {
    static let shared = TemporaryFileGuard()
    static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private let lock = NSLock()
    private var previous: [Int32: sigaction] = [:]

    private init() {
        _temporaryPath[0] = 0  // initialises the global before any handler can run
    }

    /// The armed path.
    var path: String { String(cString: _temporaryPath) }

    /// Stores `path` for the handlers and installs them; `false` when the path does not fit.
    /// Holds a lock until ``disarm()``: one temporary file at a time.
    func arm(_ path: String) -> Bool {
        let utf8 = Array(path.utf8)
        guard utf8.count < _temporaryPathCapacity, !utf8.contains(0) else { return false }
        lock.lock()
        utf8.withUnsafeBufferPointer { source in
            UnsafeMutableRawPointer(_temporaryPath).copyMemory(from: source.baseAddress!, byteCount: source.count)
        }
        _temporaryPath[utf8.count] = 0
        for signal in Self.signals {
            var old = sigaction()
            var action = sigaction()
            action.__sigaction_handler.sa_handler = _removeTemporaryAndReraise
            sigemptyset(&action.sa_mask)
            action.sa_flags = 0
            guard sigaction(signal, nil, &old) == 0 else { continue }
            if isIgnored(old) { continue }  // stays ignored
            previous[signal] = old
            sigaction(signal, &action, nil)
        }
        _temporaryArmed = 1
        return true
    }

    /// Forgets the path and puts the previous handlers back.
    func disarm() {
        _temporaryArmed = 0
        for (signal, old) in previous {
            var old = old
            sigaction(signal, &old, nil)
        }
        previous = [:]
        _temporaryPath[0] = 0
        lock.unlock()
    }
}

private let _temporaryPathCapacity = Int(PATH_MAX) + 1
nonisolated(unsafe) private let _temporaryPath: UnsafeMutablePointer<CChar> = {
    let p = UnsafeMutablePointer<CChar>.allocate(capacity: _temporaryPathCapacity)
    p.initialize(repeating: 0, count: _temporaryPathCapacity)
    return p
}()
nonisolated(unsafe) private var _temporaryArmed: sig_atomic_t = 0

/// Whether a signal's action is "ignore".
private func isIgnored(_ action: sigaction) -> Bool {
    guard let handler = action.__sigaction_handler.sa_handler else { return false }
    return unsafeBitCast(handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self)
}

/// Removes the armed temporary file, restores the default action and raises the signal again,
/// so the process ends as it would have without the handler.
private func _removeTemporaryAndReraise(_ signal: Int32) {
    if _temporaryArmed != 0 { unlink(_temporaryPath) }
    var action = sigaction()
    action.__sigaction_handler.sa_handler = SIG_DFL
    sigemptyset(&action.sa_mask)
    sigaction(signal, &action, nil)
    raise(signal)
}
