import Foundation
import Processes
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import ACME

extension Trait where Self == ConditionTrait {
    /// Gate for the tests that need Pebble, challtestsrv, nginx and openssl: skipped with the reason without them,
    /// failed with it under SBS_REQUIRE_INTEGRATION=1 (CI).
    static var pebble: Self {
        .requires(
            "pebble", "pebble-challtestsrv", "nginx", "openssl", "python3", "curl",
            install: "apt-get install -y pebble nginx openssl curl python3")
    }
}

/// One Pebble + challtestsrv + nginx on free loopback ports in a temp folder, started by
/// scripts/test/pebble-env.sh and stopped (by pid) when `stop()` runs.
final class PebbleEnvironment: Sendable {
    static let script: String = {
        // Tests/ACMETests/PebbleEnvironment.swift → repository root.
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/test/pebble-env.sh"
    }()

    let dir: TemporaryDirectory
    let values: [String: String]
    let extraEnvironment: [String: String]

    var directoryURL: String { values["PEBBLE_DIRECTORY"] ?? "" }
    var caBundle: String { values["PEBBLE_CA_BUNDLE"] ?? "" }
    var webroot: String { values["WEBROOT"] ?? "" }
    var httpPort: Int { Int(values["HTTP_PORT"] ?? "") ?? 0 }
    var rootsURL: String { values["PEBBLE_ROOTS"] ?? "" }
    var ariDir: String { values["ARI_DIR"] ?? "" }
    var ariBase: String { values["ARI_BASE"] ?? "" }
    var path: String { dir.path }

    /// - Parameter environment: Pebble settings such as PEBBLE_WFE_NONCEREJECT, PEBBLE_STRICT, PEBBLE_EAB_KID.
    /// Starts one on a thread of its own: the script waits for Pebble and nginx (seconds), and a test blocking a
    /// thread of the 2-wide task pool that long stalls every other test in the process (timers included).
    /// Environments started in parallel take free ports from the kernel and release them just before use; on the
    /// rare collision the start fails, and a second start on fresh ports is tried (three in all).
    static func start(_ environment: [String: String] = [:]) async throws -> PebbleEnvironment {
        var failure: (any Error)?
        for _ in 0..<3 {
            do {
                return try await onOwnThread { Result { try PebbleEnvironment(environment) } }.get()
            } catch {
                failure = error
            }
        }
        throw failure ?? ACMEError.local("pebble-env.sh did not start", remedy: "")
    }

    init(_ environment: [String: String] = [:]) throws {
        dir = try TemporaryDirectory("acme")
        extraEnvironment = environment
        let output: String
        do {
            output = try Self.run([Self.script, "start", dir.path + "/env"], environment: environment)
        } catch {
            // What did start (challtestsrv, nginx) is stopped before the error goes up.
            _ = try? Self.run([Self.script, "stop", dir.path + "/env"], environment: [:])
            throw error
        }
        let values = scriptValues(printed: output)
        self.values = values
        if values["PEBBLE_DIRECTORY"] == nil {
            stop()
            throw ACMEError.local("pebble-env.sh printed no directory: \(output)", remedy: "")
        }
    }

    func stop() { _ = try? Self.run([Self.script, "stop", dir.path + "/env"], environment: [:]) }

    func stopPebble() throws {
        _ = try Self.run([Self.script, "stop-pebble", dir.path + "/env"], environment: extraEnvironment)
    }
    func startPebble() throws {
        _ = try Self.run([Self.script, "start-pebble", dir.path + "/env"], environment: extraEnvironment)
    }

    /// Stops nginx so that HTTP-01 validation finds nothing listening.
    func stopNginx() throws {
        let pid = try String(contentsOfFile: dir.path + "/env/nginx.pid", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        _ = try Self.run(["/bin/kill", pid], environment: [:])
        for _ in 0..<100 where FileManager.default.fileExists(atPath: dir.path + "/env/nginx.pid") { usleep(20_000) }
    }

    /// Pebble's current root (it makes a new one at every start), as a PEM file.
    func fetchRoot() throws -> String {
        let path = dir.path + "/root-\(UUID().uuidString).pem"
        _ = try Self.run(["curl", "-fsS", "--cacert", caBundle, "-o", path, rootsURL], environment: [:])
        return path
    }

    /// `openssl verify` of the live folder's chain against Pebble's current root.
    func verifyChain(liveDirectory: String) throws -> String {
        let root = try fetchRoot()
        return try Self.run(
            [
                "openssl", "verify", "-CAfile", root, "-untrusted", liveDirectory + "/chain.pem",
                liveDirectory + "/cert.pem",
            ],
            environment: [:])
    }

    /// Runs a command to completion; returns stdout. Throws with stderr on a non-zero exit.
    ///
    /// posix_spawn + waitpid rather than Foundation's Process: Process learns of the child's exit through a
    /// Dispatch source, and when parallel tests block every thread of the (2-core) pool in waitUntilExit,
    /// that source never runs. Output goes to files, not pipes: a daemon the command starts could keep a
    /// pipe open forever.
    @discardableResult
    static func run(_ argv: [String], environment: [String: String]) throws -> String {
        let base = Scratch.path("acme-run")
        defer {
            unlink(base + ".out")
            unlink(base + ".err")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, base + ".out", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, base + ".err", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let args = (["/usr/bin/env"] + argv).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            args.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, args, envp)
        guard spawned == 0 else {
            throw ACMEError.local("posix_spawn \(argv[0]) failed: \(spawned)", remedy: "")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            let stderr = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
            throw ACMEError.local(
                "\(argv.joined(separator: " ")) exited \(code) (status \(status)): \(stderr) \(text)", remedy: "")
        }
        return text
    }
}

/// Collects progress events (the issuer reports them from its task).
final class ProgressLog: Sendable {
    private let events = Mutex<[IssuanceProgress]>([])
    var all: [IssuanceProgress] { events.withLock { $0 } }
    func record(_ event: IssuanceProgress) { events.withLock { $0.append(event) } }
}
