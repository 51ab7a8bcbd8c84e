#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Minimal file access over the C library (the libraries avoid Foundation so that
/// libmanako.so stays small with the Swift runtime linked in).
public enum FileIO {
    /// Reads a whole file, refusing files larger than `limit` bytes before allocating.
    public static func read(_ path: String, limit: Int = 4 << 30) throws -> [UInt8] {
        let (fd, size) = try openRegularFile(path, limit: limit)
        defer { close(fd) }
        // Read straight into the array's storage: zero-filling it first was a pass over the
        // whole file (and its page faults) for nothing.
        var got = 0
        let bytes = try [UInt8].uninitialized(capacity: size) { buffer, initialized in
            defer { initialized = got }
            if let base = buffer.baseAddress { HugePages.advise(UnsafeMutableRawPointer(base), byteCount: size) }
            while got < size {
                let n = Glibc.read(fd, buffer.baseAddress! + got, size - got)
                if n < 0 && errno == EINTR { continue }
                guard n >= 0 else { throw ManakoError(.io, "cannot read '\(path)': \(String(cString: strerror(errno)))") }
                if n == 0 { break }
                got += n
            }
        }
        guard got == size else { throw ManakoError(.io, "short read on '\(path)': \(got) of \(size) bytes") }
        return bytes
    }

    /// Opens `path` for reading, refusing what is not a regular file or holds more than `limit`
    /// bytes: its descriptor, which the caller closes, and its size. Opens without blocking, so
    /// a FIFO or device given as a path is refused instead of waited on.
    static func openRegularFile(_ path: String, limit: Int) throws -> (descriptor: Int32, size: Int) {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw ManakoError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let message = "cannot stat '\(path)': \(String(cString: strerror(errno)))"
            close(fd)
            throw ManakoError(.io, message)
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw ManakoError(.io, "'\(path)' is not a regular file")
        }
        let size = Int(info.st_size)
        guard size <= limit else {
            close(fd)
            throw ManakoError(.limitExceeded, "'\(path)' is \(size) bytes, over the limit of \(limit) bytes")
        }
        return (fd, size)
    }

    /// Returns the whole pages of [start, start + byteCount) to the system when there are 16 or
    /// more (they read as zeros afterwards): only for memory no one else holds and that is
    /// never read again.
    public static func releasePages(_ start: UnsafeRawPointer, byteCount: Int) {
        #if canImport(Glibc)
        let page = 4096, first = (Int(bitPattern: start) + page - 1) / page * page, end = (Int(bitPattern: start) + byteCount) / page * page
        if end - first >= 16 * page { _ = madvise(UnsafeMutableRawPointer(bitPattern: first), end - first, MADV_DONTNEED) }
        #endif
    }

    /// The canonical absolute path (symbolic links resolved), or nil when it does not exist.
    public static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Writes `bytes` to `path`, replacing it.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        guard let file = fopen(path, "wb") else {
            throw ManakoError(.io, "cannot create '\(path)': \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        let put = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, bytes.count, file) }
        guard put == bytes.count else { throw ManakoError(.io, "short write on '\(path)'") }
    }

    /// The directory part of a path ("." when there is none).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
