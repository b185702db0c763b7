import Foundation

/// A throw-away folder under the temporary directory (mode 0755, so that nginx workers can read webroots below
/// it), removed with everything in it when the value goes away.
public final class TemporaryDirectory: Sendable {
    public let path: String

    /// - Parameter label: part of the folder's name, to tell the tests' folders apart.
    public init(_ label: String = "test") throws {
        var template = Array((NSTemporaryDirectory() + "/sbs-\(label)-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "mkdtemp failed: errno \(errno)"])
        }
        path = String(cString: made)
        chmod(path, 0o755)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
