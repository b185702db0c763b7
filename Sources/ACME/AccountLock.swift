import FoundationEssentials
import SBSCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One exclusive lock per ACME store (`ACCOUNT-DIRECTORY/lock`, flock), held by everything that touches the
/// account, its orders, the renewal settings or a live folder issued through it: `sbs install`'s
/// obtain-certificate, `sbs renew` and `sbs cert issue`. A second holder waits for the first (saying for whom), so
/// two concurrent runs never register two accounts or interleave the files of one certificate.
///
/// Two tasks of one process exclude each other as two processes do; a task that holds the lock and calls back in
/// (renewal calls issuance) is let through (`heldByTask`).
final class AccountLock: Sendable {
    let path: String
    let fd: Int32

    /// The stores whose lock this process holds (any task).
    private static let held = Mutex<Set<String>>([])
    /// The stores whose lock the current task (or a task it runs in) holds.
    @TaskLocal static var heldByTask: Set<String> = []

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
    }

    /// How long a run waits for another before it gives up.
    static let patience: Duration = .seconds(600)

    /// Takes the lock of `accountDirectory`, waiting while another process holds it. Cancellation (Ctrl-C) ends
    /// the wait within a tenth of a second.
    /// - Throws: `ACMEError` (`.local`) when the lock file cannot be opened, or after `patience`;
    ///   `CancellationError`.
    static func acquire(
        accountDirectory: String, waiting: @Sendable (String) -> Void = { _ in }
    ) async throws -> AccountLock {
        try FileIO.makeDirectories(accountDirectory, mode: 0o700)
        let path = accountDirectory + "/lock"
        let start = ContinuousClock.now
        var told = false
        func wait(_ holder: String) async throws {
            if !told {
                waiting(
                    "another sbs run (pid \(holder)) is using the ACME account in \(accountDirectory); waiting for it")
                told = true
            }
            if ContinuousClock.now - start > patience {
                throw ACMEError.local(
                    "Another sbs run (pid \(holder)) has held the ACME account in \(accountDirectory) for more than \(Int(patience.components.seconds / 60)) minutes.",
                    remedy: "Wait for it to finish, or stop it, then run the same command again.")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        // First among the tasks of this process…
        while !held.withLock({ $0.insert(path).inserted }) {
            try await wait("\(getpid())")
        }
        // …then among processes.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        guard fd >= 0 else {
            _ = held.withLock { $0.remove(path) }
            throw ACMEError.local(
                "open \(path) failed: \(String(cString: strerror(errno)))",
                remedy: "Run sbs as root, or choose a --root you can write to.")
        }
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            do {
                guard code == EWOULDBLOCK || code == EINTR else {
                    throw ACMEError.local(
                        "flock \(path) failed: \(String(cString: strerror(code)))",
                        remedy: "Check the file system of \(path).")
                }
                try await wait(holderPID(fd))
            } catch {
                close(fd)
                _ = held.withLock { $0.remove(path) }
                throw error
            }
        }
        let pid = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = pid.withUnsafeBufferPointer { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return AccountLock(path: path, fd: fd)
    }

    private static func holderPID(_ fd: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        let text = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmed : ""
        return text.isEmpty ? "unknown" : text
    }

    /// Lets the lock go: closing the descriptor releases the flock.
    func release() {
        ftruncate(fd, 0)
        close(fd)
        _ = Self.held.withLock { $0.remove(path) }
    }
}

extension CertificateIssuer {
    /// Runs `body` holding the lock of `accountDirectory`, reporting a wait through `progress`.
    func withAccountLock<T: Sendable>(
        _ accountDirectory: String, progress: @escaping @Sendable (IssuanceProgress) -> Void,
        _ body: () async throws -> T
    ) async throws -> T {
        let path = accountDirectory + "/lock"
        if AccountLock.heldByTask.contains(path) { return try await body() }
        let lock = try await AccountLock.acquire(accountDirectory: accountDirectory) {
            progress(.waitingForLock(reason: $0))
        }
        defer { lock.release() }
        return try await AccountLock.$heldByTask.withValue(AccountLock.heldByTask.union([path])) { try await body() }
    }
}
