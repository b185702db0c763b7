import Foundation
import SBSCore
import TestSupport
import Testing

@testable import ACME

/// One lock per ACME store: concurrent runs wait for each other instead of racing on the account and files.
@Suite("ACME store lock")
struct AccountLockTests {
    // Two `cert issue` runs started together on a fresh store: one registers the account, the other waits and
    // reuses it. Without the lock both see no account and both register one.
    @Test(.pebble, .timeLimit(.minutes(5)))
    func twoConcurrentIssuesRegisterOneAccount() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let logs = [ProgressLog(), ProgressLog()]
        let names = ["a.example.com", "b.example.com"]
        try await withThrowingTaskGroup(of: IssuedCertificate.self) { group in
            for index in 0..<2 {
                group.addTask {
                    try await CertificateIssuer().issue(
                        domains: [names[index]], email: "ops@example.org", webroot: env.webroot,
                        directory: try ACMEServer(env.directoryURL), caBundle: env.caBundle,
                        accountDirectory: root + "/etc/sbs/acme",
                        liveDirectory: root + "/etc/sbs/ssl/live/" + names[index], progress: { logs[index].record($0) })
                }
            }
            let issued = try await group.reduce(into: []) { $0.append($1) }
            #expect(issued.count == 2)
            #expect(Set(issued.map(\.accountURL)).count == 1, "both certificates under one account")
        }
        let created = logs.flatMap(\.all).filter { if case .accountCreated = $0 { return true } else { return false } }
        #expect(created.count == 1)
        let reused = logs.flatMap(\.all).filter { if case .accountReused = $0 { return true } else { return false } }
        #expect(reused.count == 1)
    }

    @Test func aTaskThatHoldsTheLockMayCallBackInAndAnotherProcessIsExcluded() async throws {
        let dir = temporaryFolder()
        let issuer = CertificateIssuer()
        let nested = try await issuer.withAccountLock(dir, progress: { _ in }) {
            // Another process cannot take it meanwhile; a nested call of the same task goes through.
            let elsewhere = flockHeldElsewhere(dir + "/lock")
            let inner = try await issuer.withAccountLock(dir, progress: { _ in }) { flockHeldElsewhere(dir + "/lock") }
            return elsewhere && inner
        }
        #expect(nested)
        #expect(!flockHeldElsewhere(dir + "/lock"))
    }

    // Ctrl-C while waiting for another run's lock ends the wait at once.
    @Test(.timeLimit(.minutes(1)))
    func waitingForTheLockEndsWhenCancelled() async throws {
        let dir = temporaryFolder()
        let holder = try startLockHolder(dir + "/lock")
        defer {
            kill(-holder, SIGKILL)
            var s: Int32 = 0
            waitpid(holder, &s, 0)
        }
        let said = ProgressLog()
        let waiter = Task {
            try await CertificateIssuer().withAccountLock(dir, progress: { said.record($0) }) { 1 }
        }
        for _ in 0..<200 where said.all.isEmpty { try await Task.sleep(for: .milliseconds(25)) }
        #expect(said.all.first?.description.contains("is using the ACME account") == true)
        waiter.cancel()
        await #expect(throws: CancellationError.self) { _ = try await waiter.value }
    }
}

/// Whether a child process fails to take the flock of `path` (`flock -n`).
func flockHeldElsewhere(_ path: String) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
    process.arguments = ["-n", path, "true"]
    guard (try? process.run()) != nil else { return false }
    process.waitUntilExit()
    return process.terminationStatus != 0
}

/// A child that holds the flock of `path` until its process group is killed (`kill(-pid, SIGKILL)`). Its output goes
/// to /dev/null: a child holding the test runner's output open would keep `swift test` waiting for it.
func startLockHolder(_ path: String) throws -> pid_t {
    let marker = path + ".held"
    let argv = ["/usr/bin/flock", path, "sh", "-c", "touch \(marker); exec sleep 300"]
    guard let pid = spawnQuietly(argv, ownProcessGroup: true) else {
        throw ACMEError.local("could not start flock", remedy: "")
    }
    for _ in 0..<200 where !FileManager.default.fileExists(atPath: marker) { usleep(25_000) }
    return pid
}
