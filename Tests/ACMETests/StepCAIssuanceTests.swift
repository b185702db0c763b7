import Foundation
import Processes
import SBSCore
import TestSupport
import Testing
import X509

@testable import ACME

/// Gate for the step-ca tests: Go and Debian's smallstep library (to build step-ca), nginx, openssl, curl, root
/// (step-ca validates on port 80 and resolves names through /etc/hosts), and port 80 free. Skipped with the reason
/// otherwise, failed with it under SBS_REQUIRE_INTEGRATION=1 (CI).
enum StepCAIntegration {
    static var missing: [String] {
        var missing: [String] = []
        if !FileManager.default.isExecutableFile(atPath: "/usr/bin/go") { missing.append("golang-go") }
        if !FileManager.default.fileExists(atPath: "/usr/share/gocode/src/github.com/smallstep/certificates") {
            missing.append("golang-github-smallstep-certificates-dev")
        }
        if !FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") { missing.append("nginx") }
        if getuid() != 0 { missing.append("root") }
        return missing
    }

    static var gate: ConditionTrait {
        let missing = missing
        return .requires(
            Integration.reason(
                missing: missing,
                install: "apt-get install -y golang-go golang-github-smallstep-certificates-dev nginx; run as root"),
            when: missing.isEmpty)
    }
}

/// A step-ca started by scripts/test/stepca-env.sh for `names`, stopped by pid (and its /etc/hosts lines removed).
final class StepCAEnvironment: Sendable {
    static let script: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/scripts/test/stepca-env.sh"
    }()

    let dir: TemporaryDirectory
    let values: [String: String]
    var directoryURL: String { values["STEPCA_DIRECTORY"] ?? "" }
    var root: String { values["STEPCA_ROOT"] ?? "" }
    var webroot: String { values["WEBROOT"] ?? "" }

    static func start(names: [String]) async throws -> StepCAEnvironment {
        try await onOwnThread { Result { try StepCAEnvironment(names: names) } }.get()
    }

    init(names: [String]) throws {
        dir = try TemporaryDirectory("acme")
        let output: String
        do {
            output = try PebbleEnvironment.run([Self.script, "start", dir.path + "/env"] + names, environment: [:])
        } catch {
            _ = try? PebbleEnvironment.run([Self.script, "stop", dir.path + "/env"], environment: [:])
            throw error
        }
        values = scriptValues(printed: output)
    }

    func stop() { _ = try? PebbleEnvironment.run([Self.script, "stop", dir.path + "/env"], environment: [:]) }
}

/// Issuance and renewal against smallstep's step-ca, an ACME server that behaves unlike Pebble: it validates during
/// the challenge POST, sends no Retry-After, returns a leaf and an intermediate, and keeps a failed authorization
/// `pending` with the challenge's error set. One environment at a time: they share port 80 and /etc/hosts.
@Suite("ACME against step-ca", .serialized, StepCAIntegration.gate, .timeLimit(.minutes(5)))
struct StepCAIssuanceTests {
    func issue(_ env: StepCAEnvironment, _ names: [String], webroot: String? = nil, log: ProgressLog = ProgressLog())
        async throws -> IssuedCertificate
    {
        try await CertificateIssuer().issue(
            domains: names, email: "ops@example.org", webroot: webroot ?? env.webroot,
            directory: try ACMEServer(env.directoryURL),
            caBundle: env.root, accountDirectory: env.dir.path + "/root/etc/sbs/acme",
            liveDirectory: env.dir.path + "/root/etc/sbs/ssl/live/" + names[0], progress: { log.record($0) })
    }

    @Test func issuesALeafWithItsIntermediateAndRenews() async throws {
        let names = ["shop.stepca.test", "www.shop.stepca.test"]
        let env = try await StepCAEnvironment.start(names: names)
        defer { env.stop() }
        let issued = try await issue(env, names)
        let leaf = try Certificate(pemEncoded: try String(contentsOfFile: issued.certificatePath, encoding: .utf8))
        #expect(Set(CertificateTools.dnsNames(of: leaf)) == Set(names))
        // step-ca sends the leaf and its intermediate: the chain verifies against the root alone.
        let fullchain = try String(contentsOfFile: issued.fullchainPath, encoding: .utf8)
        #expect(fullchain.components(separatedBy: "-----BEGIN CERTIFICATE-----").count - 1 == 2)
        let verified = try PebbleEnvironment.run(
            ["openssl", "verify", "-CAfile", env.root, "-untrusted", issued.chainPath, issued.certificatePath],
            environment: [:])
        #expect(verified.contains("cert.pem: OK"))
        let key = try Certificate.PrivateKey(
            pemEncoded: try String(contentsOfFile: issued.privateKeyPath, encoding: .utf8))
        #expect(CertificateTools.matches(key, leaf))

        // A forced renewal with the kept settings: a new certificate for the same names, through the same account.
        let outcome = try await CertificateIssuer().renewIfDue(
            liveDirectory: issued.liveDirectory, accountDirectory: env.dir.path + "/root/etc/sbs/acme", force: true,
            progress: { _ in })
        guard case .renewed(_, let renewed) = outcome else {
            Issue.record("a forced renewal did not renew: \(outcome)")
            return
        }
        let renewedLeaf = try Certificate(
            pemEncoded: try String(contentsOfFile: renewed.certificatePath, encoding: .utf8))
        #expect(renewedLeaf.serialNumber != leaf.serialNumber)
        #expect(Set(CertificateTools.dnsNames(of: renewedLeaf)) == Set(names))
        #expect(renewed.accountURL == issued.accountURL)
    }

    @Test func aChallengeNobodyServesFailsAtOnceWithTheCAsOwnWords() async throws {
        let names = ["nothing.stepca.test"]
        let env = try await StepCAEnvironment.start(names: names)
        defer { env.stop() }
        // A webroot nginx does not serve: the token is never found.
        let elsewhere = env.dir.path + "/elsewhere"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        let clock = ContinuousClock()
        let started = clock.now
        let log = ProgressLog()
        do {
            _ = try await issue(env, names, webroot: elsewhere, log: log)
            Issue.record("issuance succeeded with nothing serving the token")
        } catch let error as ACMEError {
            // step-ca keeps the authorization pending with the challenge's error: that error is reported, after a
            // short grace, not after minutes of polling; and no wait is blamed on the CA, which sent no Retry-After.
            #expect(clock.now - started < .seconds(30), "took \(clock.now - started)")
            // The CA's own words: the problem document step-ca set on the challenge, its detail quoted whole in the
            // message, for the name it is about; and the same detail reported as soon as the CA set it.
            let problem = try #require(error.problem, "no problem document from the CA behind: \(error.message)")
            let detail = try #require(problem.detail, "\(problem)")
            #expect(!detail.isEmpty && error.message.contains(detail), "\(error.message) does not quote \(detail)")
            #expect(
                problem.identifier?.value == "nothing.stepca.test" && error.message.contains("nothing.stepca.test"),
                "\(error.message)")
            #expect(["connection", "unauthorized", "incorrectResponse"].contains(problem.acmeType ?? ""), "\(problem)")
            let reported = log.all.compactMap { event -> String? in
                if case .validationProblem(domain: "nothing.stepca.test", let detail, _) = event { return detail }
                return nil
            }
            #expect(reported == [detail], "\(log.all)")
            #expect(!log.all.contains { "\($0)".contains("asks to wait") }, "\(log.all)")
        }
    }
}
