import Foundation
import SBSCore
import Testing

@testable import ACME

/// Renewal settings: one per live folder (its whole path), every one of them renewable, the ARI moment kept.
@Suite("Renewal settings")
struct RenewalSettingsTests {
    func config(_ live: String, domain: String = "shop.example.com") -> RenewalConfig {
        RenewalConfig(
            domains: [domain], email: nil, webroot: "/srv/www", directoryURL: "https://ca.example/dir",
            caBundle: nil, profile: nil, liveDirectory: live)
    }

    // `cert issue --out …/a/out` and `--out …/b/out` used to share `renewal/out.json`, the second overwriting the first.
    @Test func twoFoldersOfOneNameKeepTheirOwnSettings() throws {
        let acme = temporaryFolder()
        try config("/srv/a/out", domain: "a.example.com").save(accountDirectory: acme)
        try config("/srv/b/out", domain: "b.example.com").save(accountDirectory: acme)
        #expect(
            try RenewalConfig.load(accountDirectory: acme, liveDirectory: "/srv/a/out")?.domains == ["a.example.com"])
        #expect(
            try RenewalConfig.load(accountDirectory: acme, liveDirectory: "/srv/b/out")?.domains == ["b.example.com"])
        #expect(try RenewalConfig.all(accountDirectory: acme).map(\.liveDirectory) == ["/srv/a/out", "/srv/b/out"])
    }

    @Test func aLegacyFileIsReadForItsOwnFolderOnlyAndReplacedOnSave() throws {
        let acme = temporaryFolder()
        let legacy = acme + "/renewal/out.json"
        try FileIO.writeAtomically(try JSONEncoder.acme.encode(config("/srv/a/out")).bytes, to: legacy, mode: 0o600)
        #expect(try RenewalConfig.load(accountDirectory: acme, liveDirectory: "/srv/a/out") != nil)
        #expect(try RenewalConfig.load(accountDirectory: acme, liveDirectory: "/srv/b/out") == nil)
        #expect(try RenewalConfig.all(accountDirectory: acme).map(\.liveDirectory) == ["/srv/a/out"])
        try config("/srv/a/out").save(accountDirectory: acme)
        #expect(!FileManager.default.fileExists(atPath: legacy))
        #expect(try RenewalConfig.all(accountDirectory: acme).count == 1)
    }

    // The moment in the CA's window is chosen once per certificate: checks that follow agree with each other.
    // With a fresh random choice per run, a wide window that has begun read as due on some runs and not on others.
    @Test(.pebble, .timeLimit(.minutes(5)))
    func theARIMomentIsChosenOnceAndKept() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let pebbleDirectory = try PebbleEnvironment.run(
            ["curl", "-fsS", "--cacert", env.caBundle, env.directoryURL], environment: [:])
        var fields = try #require(try JSONSerialization.jsonObject(with: Data(pebbleDirectory.utf8)) as? [String: Any])
        fields["renewalInfo"] = env.ariBase + "/renewal-info"
        try JSONSerialization.data(withJSONObject: fields).write(to: URL(fileURLWithPath: env.ariDir + "/directory"))
        try FileManager.default.createDirectory(atPath: env.ariDir + "/renewal-info", withIntermediateDirectories: true)
        let root = env.path + "/root"
        let acme = root + "/etc/sbs/acme"
        let live = root + "/certs/out"
        let issued = try await CertificateIssuer().issue(
            domains: ["kept.example.com"], email: nil, webroot: env.webroot,
            directory: try ACMEServer(env.ariBase + "/directory"),
            caBundle: env.caBundle, accountDirectory: acme, liveDirectory: live)
        let certID = try #require(issued.certID)
        let info =
            #"{"suggestedWindow":{"start":"\#(RFC3339.format(Date().addingTimeInterval(-10 * 86400)))","end":"\#(RFC3339.format(Date().addingTimeInterval(10 * 86400)))"}}"#
        try info.write(toFile: env.ariDir + "/renewal-info/" + certID, atomically: true, encoding: .utf8)

        var moments: Set<Date> = []
        for _ in 0..<5 {
            let decision = try await CertificateIssuer().plannedRenewal(liveDirectory: live, accountDirectory: acme)
            #expect(decision.source == .ari)
            moments.insert(decision.renewAt)
        }
        #expect(moments.count == 1, "one moment for one certificate: \(moments)")
        #expect(try RenewalConfig.load(accountDirectory: acme, liveDirectory: live)?.ariFraction != nil)

        // A new certificate chooses again.
        _ = try await CertificateIssuer().issue(
            domains: ["kept.example.com"], email: nil, webroot: env.webroot,
            directory: try ACMEServer(env.ariBase + "/directory"),
            caBundle: env.caBundle, accountDirectory: acme, liveDirectory: live)
        #expect(try RenewalConfig.load(accountDirectory: acme, liveDirectory: live)?.ariFraction == nil)
    }
}
