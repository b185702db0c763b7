import Foundation
import Processes
import SBSCore
import TestSupport
import Testing

/// The `sbs` binary this test run built (beside the test bundle), or `SBS_BINARY`.
let sbsBinary: String = {
    if let path = ProcessInfo.processInfo.environment["SBS_BINARY"] { return path }
    let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for candidate in [bundle, bundle.deletingLastPathComponent()] {
        let path = candidate.appendingPathComponent("sbs").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return Bundle.main.bundleURL.appendingPathComponent("sbs").path
}()

/// The repository root (for `examples/`, `steps/` and fixtures).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

struct Run {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the built `sbs` with `arguments` and waits for it on a thread of its own: blocking the test's task would
/// take one of the few threads of the task pool (two on these machines) from every other test.
@discardableResult
func sbs(_ arguments: [String], environment: [String: String] = [:]) async throws -> Run {
    try await onOwnThread { Result { try sbsBlocking(arguments, environment: environment) } }.get()
}

/// A `Process` for the built `sbs` with these arguments, in this process's environment plus `environment`.
func sbsProcess(_ arguments: [String], environment: [String: String]) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: sbsBinary)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    return process
}

func sbsBlocking(_ arguments: [String], environment: [String: String]) throws -> Run {
    try runCapturing(sbsProcess(arguments, environment: environment))
}

/// Runs `process` with no standard input and waits for it, returning its status and both outputs.
func runCapturing(_ process: Process) throws -> Run {
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    try process.run()
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    let stderrData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Run(
        status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
        stderr: String(decoding: stderrData, as: UTF8.self))
}

/// Starts `sbs` without waiting (for kill and lock tests).
func startSBS(_ arguments: [String], environment: [String: String] = [:]) throws -> Process {
    let process = sbsProcess(arguments, environment: environment)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
}

func scratchDirectory(_ name: String) -> String {
    let path = Scratch.path("e2e-\(name)")
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func read(_ path: String) -> String? {
    try? String(contentsOfFile: path, encoding: .utf8)
}

/// Polls `condition` every 50 ms for at most `seconds`.
func waitFor(_ seconds: Double, _ condition: () -> Bool) async -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return condition()
}

/// The state file as data that two runs can be compared on: status, fingerprint and output per step.
func comparableState(_ root: String) throws -> [String: String] {
    let data = try Data(contentsOf: URL(fileURLWithPath: root + "/var/lib/sbs/state.json"))
    let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
    let steps = object["steps"] as? [String: [String: Any]] ?? [:]
    var result: [String: String] = [:]
    for (id, record) in steps {
        let output =
            try record["output"].map {
                String(
                    decoding: try JSONSerialization.data(
                        withJSONObject: $0, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes]),
                    as: UTF8.self)
            } ?? "-"
        result[id] = "\(record["status"] ?? "-") \(record["fingerprint"] ?? "-") \(output)"
    }
    return result
}

/// Every regular file under `root` (relative path → content), to compare two installs byte for byte.
func tree(_ root: String, excluding: (String) -> Bool = { _ in false }) -> [String: Data] {
    var result: [String: Data] = [:]
    guard let walker = FileManager.default.enumerator(atPath: root) else { return result }
    while let relative = walker.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let path = root + "/" + relative
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
            !excluding(relative)
        {
            result[relative] = FileManager.default.contents(atPath: path)
        }
    }
    return result
}

/// Runs a program that leaves daemons behind (tmux's server, Pebble, nginx) and waits for it; output goes to
/// /dev/null (see `spawnQuietly`). -1 when it cannot be started.
@discardableResult
func spawnAndWait(_ argv: [String], environment: [String: String] = [:]) -> Int32 {
    spawnQuietly(argv, environment: environment).map(waitForExit) ?? -1
}

/// A local Pebble + fake DNS + nginx serving `webroot`, from scripts/test/pebble-env.sh, stopped on deinit.
final class LocalACME {
    let dir: String
    let values: [String: String]

    init(webroot: String) throws {
        dir = scratchDirectory("pebble")
        let status = spawnAndWait(
            [repositoryRoot + "/scripts/test/pebble-env.sh", "start", dir],
            environment: ["PEBBLE_ENV_WEBROOT": webroot])
        guard status == 0, let text = read(dir + "/env") else {
            throw NSError(
                domain: "LocalACME", code: Int(status),
                userInfo: [NSLocalizedDescriptionKey: "pebble-env.sh start failed (\(status)); logs in \(dir)"])
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { values[parts[0]] = parts[1] }
        }
        self.values = values
    }

    subscript(key: String) -> String { values[key] ?? "" }

    deinit { spawnAndWait([repositoryRoot + "/scripts/test/pebble-env.sh", "stop", dir]) }
}
