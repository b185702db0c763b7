import Foundation

/// The one folder the tests of this process write under: /tmp/sbs-tests.PID.XXXXXX (mode 0755, so that nginx
/// workers can read webroots below it), removed with everything in it when the process exits, and kept when
/// SBS_KEEP_TEST_FILES=1 (to look at after a failure). Folders of earlier test processes that are gone (killed,
/// or stopped by a time limit before they could remove theirs) are removed when it is made.
public enum Scratch {
    public static let root: String = {
        let base =
            NSTemporaryDirectory().hasSuffix("/") ? String(NSTemporaryDirectory().dropLast()) : NSTemporaryDirectory()
        removeFoldersOfEndedProcesses(in: base)
        var template = Array((base + "/sbs-tests.\(getpid()).XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { fatalError("mkdtemp under \(base) failed: errno \(errno)") }
        let path = String(cString: made)
        chmod(path, 0o755)
        if ProcessInfo.processInfo.environment["SBS_KEEP_TEST_FILES"] != "1" {
            atexit { try? FileManager.default.removeItem(atPath: Scratch.root) }
        }
        return path
    }()

    /// A new path under the root, not yet made: LABEL-XXXXXXXX.
    public static func path(_ label: String) -> String {
        root + "/\(label)-\(UUID().uuidString.prefix(8))"
    }

    /// A new folder under the root, made with mode 0755.
    public static func folder(_ label: String) throws -> String {
        var template = Array((root + "/\(label)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(
                .fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "mkdtemp under \(root) failed: errno \(errno)"]
            )
        }
        let path = String(cString: made)
        chmod(path, 0o755)
        return path
    }

    public static func removeFoldersOfEndedProcesses(in base: String) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? []
        where name.hasPrefix("sbs-tests.") {
            let parts = name.split(separator: ".")
            guard parts.count == 3, let pid = pid_t(parts[1]), pid > 0 else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: base + "/" + name) }
        }
    }
}

/// A throw-away folder under the tests' scratch root (mode 0755), removed with everything in it when the value goes
/// away.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// - Parameter label: part of the folder's name, to tell the tests' folders apart.
    public init(_ label: String = "test") throws {
        path = try Scratch.folder(label)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
