import Foundation
import HTTPClient
import SBSCore
import Synchronization
import Testing
import X509

@testable import ACME

/// Issuance against a real Pebble with nginx serving the webroot. Every test starts its own environment on
/// free loopback ports, so the tests run in parallel.
@Suite("ACME against Pebble", .pebble, .timeLimit(.minutes(5)))
struct PebbleIssuanceTests {
    /// Issues with the real transport and clock.
    func issue(
        _ env: PebbleEnvironment, _ domains: [String], root: String, webroot: String? = nil,
        issuer: CertificateIssuer = CertificateIssuer(),
        directory: String? = nil, profile: String? = nil, eab: ExternalAccountBinding? = nil,
        selfCheck: SelfCheck? = nil, log: ProgressLog = ProgressLog()
    ) async throws -> IssuedCertificate {
        try await issuer.issue(
            domains: domains, email: "ops@example.org", webroot: webroot ?? env.webroot,
            directory: try ACMEServer(directory ?? env.directoryURL), caBundle: env.caBundle,
            accountDirectory: root + "/etc/sbs/acme",
            liveDirectory: root + "/etc/sbs/ssl/live/" + domains[0], profile: profile, externalAccountBinding: eab,
            selfCheck: selfCheck, progress: { log.record($0) })
    }

    func leaf(_ issued: IssuedCertificate) throws -> Certificate {
        try Certificate(pemEncoded: try String(contentsOfFile: issued.certificatePath, encoding: .utf8))
    }

    @Test func issuesAVerifiableChainAndReusesTheAccount() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let first = ProgressLog()
        let issued = try await issue(
            env, ["shop.example.com"], root: root,
            selfCheck: SelfCheck(port: env.httpPort, resolveTo: "127.0.0.1"), log: first)

        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
        #expect(FileIO.mode(of: issued.privateKeyPath) == 0o600)
        #expect(FileIO.mode(of: issued.fullchainPath) == 0o644)
        let fullchain = try String(contentsOfFile: issued.fullchainPath, encoding: .utf8)
        let cert = try String(contentsOfFile: issued.certificatePath, encoding: .utf8)
        let chain = try String(contentsOfFile: issued.chainPath, encoding: .utf8)
        #expect(fullchain == cert + chain)
        #expect(CertificateTools.dnsNames(of: try leaf(issued)) == ["shop.example.com"])
        let key = try Certificate.PrivateKey(
            pemEncoded: try String(contentsOfFile: issued.privateKeyPath, encoding: .utf8))
        #expect(CertificateTools.matches(key, try leaf(issued)))
        #expect(FileIO.list(env.webroot + "/.well-known/acme-challenge").isEmpty, "challenge files are removed")
        #expect(first.all.contains { if case .selfCheck = $0 { return true } else { return false } })
        #expect(first.all.contains(.accountCreated(url: issued.accountURL)))

        // A second run reuses the stored account: same key file, same URL, no registration.
        let store = AccountStore(accountDirectory: root + "/etc/sbs/acme", directoryURL: env.directoryURL)
        #expect(FileIO.mode(of: store.keyPath) == 0o600)
        let keyBefore = try FileIO.read(store.keyPath, limit: .pem)
        let firstSerial = try leaf(issued).serialNumber
        let second = ProgressLog()
        let again = try await issue(env, ["shop.example.com"], root: root, log: second)
        #expect(again.accountURL == issued.accountURL)
        #expect(second.all.contains(.accountReused(url: issued.accountURL)))
        #expect(!second.all.contains { if case .accountCreated = $0 { return true } else { return false } })
        #expect(try FileIO.read(store.keyPath, limit: .pem) == keyBefore)
        #expect(try leaf(again).serialNumber != firstSerial)
        #expect(try env.verifyChain(liveDirectory: again.liveDirectory).contains("cert.pem: OK"))
    }

    @Test func twoDomainsInOneOrder() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let log = ProgressLog()
        let issued = try await issue(
            env, ["shop.example.com", "www.shop.example.com"], root: env.path + "/root", log: log)
        #expect(Set(CertificateTools.dnsNames(of: try leaf(issued))) == ["shop.example.com", "www.shop.example.com"])
        #expect(log.all.filter { if case .orderCreated = $0 { return true } else { return false } }.count == 1)
        #expect(log.all.filter { if case .challengeTriggered = $0 { return true } else { return false } }.count == 2)
        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
    }

    @Test func survivesRejectedNoncesInStrictMode() async throws {
        let env = try await PebbleEnvironment.start(["PEBBLE_WFE_NONCEREJECT": "20", "PEBBLE_STRICT": "1"])
        defer { env.stop() }
        var retries = 0
        var runs = 0
        // ~12 requests per issuance at 20 % rejection: a run without any badNonce is rare; keep going until
        // at least one was retried (and at least 3 runs), so the retry path is known to have been taken.
        while runs < 3 || (retries == 0 && runs < 8) {
            runs += 1
            let issued = try await issue(
                env, ["n\(runs).example.com", "m\(runs).example.com"], root: env.path + "/root")
            retries += issued.badNonceRetries
            #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
        }
        #expect(retries > 0, "Pebble rejected no nonce in \(runs) runs")
    }

    @Test func unreachableChallengeNamesTheURL() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let elsewhere = env.path + "/not-served"
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)

        // The self-check catches it before the CA is asked: no account is even created.
        let selfCheck = await #expect(throws: ACMEError.self) {
            try await issue(
                env, ["lost.example.com"], root: root, webroot: elsewhere,
                selfCheck: SelfCheck(port: env.httpPort, resolveTo: "127.0.0.1"))
        }
        #expect(selfCheck?.kind == .selfCheckFailed)
        #expect(
            selfCheck?.message.contains(
                "http://lost.example.com:\(env.httpPort)/.well-known/acme-challenge/sbs-self-check-") == true)
        #expect(selfCheck?.message.contains("HTTP 404") == true)
        #expect(
            !FileManager.default.fileExists(
                atPath: root + "/etc/sbs/acme/" + AccountStore.folderName(for: env.directoryURL) + "/account.json"))

        // Without it, the CA fetches the token, gets a 404, and the error names the URL it tried.
        let unauthorized = await #expect(throws: ACMEError.self) {
            try await issue(env, ["lost.example.com"], root: root, webroot: elsewhere)
        }
        #expect(unauthorized?.kind == .unauthorized)
        let prefix = "http://lost.example.com:\(env.httpPort)/.well-known/acme-challenge/"
        // Pebble's detail names the URL with the port; the error's url field is the record's or the standard one.
        #expect(unauthorized?.message.contains(prefix) == true, "\(String(describing: unauthorized))")
        #expect(unauthorized?.url?.hasPrefix("http://lost.example.com") == true)
        #expect(unauthorized?.url?.contains("/.well-known/acme-challenge/") == true)
        #expect(unauthorized?.message.contains("404") == true)
        #expect(FileIO.list(elsewhere + "/.well-known/acme-challenge").isEmpty)

        // Nothing listening on the HTTP port: a connection problem, again with the URL.
        try env.stopNginx()
        let connection = await #expect(throws: ACMEError.self) {
            try await issue(env, ["gone.example.com"], root: root)
        }
        #expect(connection?.kind == .connection)
        #expect(
            connection?.message.contains("http://gone.example.com:\(env.httpPort)/.well-known/acme-challenge/") == true)
    }

    @Test func aStoppedCAMidOrderIsCompletedByALaterRun() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let first = ProgressLog()
        let stopped = Mutex(false)
        let error = await #expect(throws: ACMEError.self) {
            try await CertificateIssuer().issue(
                domains: ["resume.example.com"], email: nil, webroot: env.webroot,
                directory: try ACMEServer(env.directoryURL),
                caBundle: env.caBundle, accountDirectory: root + "/etc/sbs/acme",
                liveDirectory: root + "/live/resume.example.com",
                progress: { event in
                    first.record(event)
                    if case .orderCreated = event, !stopped.withLock({ $0 }) {
                        stopped.withLock { $0 = true }
                        try? env.stopPebble()
                    }
                })
        }
        #expect(error?.kind == .transport)
        let store = AccountStore(accountDirectory: root + "/etc/sbs/acme", directoryURL: env.directoryURL)
        let saved = try #require(try store.loadOrder(for: ["resume.example.com"]))
        #expect(saved.orderURL != nil)

        // Pebble comes back without the account or the order (and with a new root).
        try env.startPebble()
        let second = ProgressLog()
        let issued = try await CertificateIssuer().issue(
            domains: ["resume.example.com"], email: nil, webroot: env.webroot,
            directory: try ACMEServer(env.directoryURL),
            caBundle: env.caBundle, accountDirectory: root + "/etc/sbs/acme",
            liveDirectory: root + "/live/resume.example.com",
            progress: { second.record($0) })
        #expect(second.all.contains { if case .accountReRegistered = $0 { return true } else { return false } })
        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
        #expect(try store.loadOrder(for: ["resume.example.com"]) == nil, "the finished order is forgotten")
        #expect(try store.loadAccount()?.url == issued.accountURL)
    }

    @Test func anInterruptedRunResumesTheSameOrder() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let first = ProgressLog()
        let handle = Mutex<Task<IssuedCertificate, any Error>?>(nil)
        let go = Mutex(false)
        let task = Task {
            // Wait until the handle is stored, so the progress callback can cancel this very task.
            while !go.withLock({ $0 }) { await Task.yield() }
            return try await CertificateIssuer().issue(
                domains: ["again.example.com"], email: nil, webroot: env.webroot,
                directory: try ACMEServer(env.directoryURL),
                caBundle: env.caBundle, accountDirectory: root + "/acme", liveDirectory: root + "/live",
                progress: { event in
                    first.record(event)
                    if case .orderCreated = event { handle.withLock { $0?.cancel() } }
                })
        }
        handle.withLock { $0 = task }
        go.withLock { $0 = true }
        await #expect(throws: CancellationError.self) { try await task.value }
        let created = try #require(
            first.all.compactMap { event -> String? in
                if case .orderCreated(let url) = event { return url } else { return nil }
            }.first)

        let second = ProgressLog()
        let issued = try await CertificateIssuer().issue(
            domains: ["again.example.com"], email: nil, webroot: env.webroot,
            directory: try ACMEServer(env.directoryURL),
            caBundle: env.caBundle, accountDirectory: root + "/acme", liveDirectory: root + "/live",
            progress: { second.record($0) })
        #expect(second.all.contains(.orderResumed(url: created, status: "pending")))
        #expect(issued.orderURL == created)
        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
    }

    @Test func renewsAtAThirdOfTheLifetimeWhenTheCAHasNoARI() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let issued = try await issue(env, ["renew.example.com"], root: root)
        let acme = root + "/etc/sbs/acme"

        let today = try await CertificateIssuer().renewIfDue(
            liveDirectory: issued.liveDirectory, accountDirectory: acme)
        guard case .notDue(let decision) = today else {
            Issue.record("renewed a fresh certificate")
            return
        }
        #expect(decision.source == .lifetime, "Debian's Pebble offers no ARI")

        // Seen from the day when only a quarter of the lifetime is left, it is due.
        let lifetime = issued.notAfter.timeIntervalSince(issued.notBefore)
        let later = issued.notBefore.addingTimeInterval(lifetime * 0.75).timeIntervalSince(Date())
        let outcome = try await CertificateIssuer(clock: OffsetClock(offset: later))
            .renewIfDue(liveDirectory: issued.liveDirectory, accountDirectory: acme)
        guard case .renewed(let due, let renewed) = outcome else {
            Issue.record("not renewed: \(outcome)")
            return
        }
        #expect(due.source == .lifetime)
        #expect(due.due)
        #expect(renewed.certID != issued.certID)
        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
    }

    @Test func renewsInTheARIWindowAndChecksProfiles() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        // Debian's Pebble has no ARI and no profiles: a stand-in directory (served by the environment's nginx
        // over HTTPS) lists Pebble's own endpoints plus renewalInfo and meta.profiles of the stand-in.
        let pebbleDirectory = try PebbleEnvironment.run(
            ["curl", "-fsS", "--cacert", env.caBundle, env.directoryURL], environment: [:])
        var fields = try #require(try JSONSerialization.jsonObject(with: Data(pebbleDirectory.utf8)) as? [String: Any])
        fields["renewalInfo"] = env.ariBase + "/renewal-info"
        fields["meta"] = ["profiles": ["classic": "the usual", "shortlived": "six days"]]
        try JSONSerialization.data(withJSONObject: fields).write(to: URL(fileURLWithPath: env.ariDir + "/directory"))
        try FileManager.default.createDirectory(atPath: env.ariDir + "/renewal-info", withIntermediateDirectories: true)
        let directory = env.ariBase + "/directory"
        let root = env.path + "/root"

        let unknownProfile = await #expect(throws: ACMEError.self) {
            try await issue(env, ["ari.example.com"], root: root, directory: directory, profile: "tlsserver")
        }
        #expect(unknownProfile?.kind == .local)
        let issued = try await issue(env, ["ari.example.com"], root: root, directory: directory, profile: "classic")
        let certID = try #require(issued.certID)

        func window(_ start: TimeInterval, _ end: TimeInterval) throws {
            let info =
                #"{"suggestedWindow":{"start":"\#(RFC3339.format(Date().addingTimeInterval(start)))","end":"\#(RFC3339.format(Date().addingTimeInterval(end)))"}}"#
            try info.write(toFile: env.ariDir + "/renewal-info/" + certID, atomically: true, encoding: .utf8)
        }
        try window(30 * 86400, 32 * 86400)
        let notYet = try await CertificateIssuer().renewalDecision(
            liveDirectory: issued.liveDirectory, directory: try ACMEServer(directory), caBundle: env.caBundle)
        #expect(notYet.source == .ari)
        #expect(!notYet.due)
        #expect(notYet.certID == certID)

        try window(-2 * 86400, -86400)
        let outcome = try await CertificateIssuer().renewIfDue(
            liveDirectory: issued.liveDirectory, accountDirectory: root + "/etc/sbs/acme")
        guard case .renewed(let decision, let renewed) = outcome else {
            Issue.record("not renewed: \(outcome)")
            return
        }
        #expect(decision.source == .ari)
        #expect(decision.certID == certID)
        #expect(renewed.certID != certID)
        let access = try String(contentsOfFile: env.path + "/env/nginx-access.log", encoding: .utf8)
        #expect(access.contains("GET /renewal-info/\(certID) "))
        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
    }

    @Test func externalAccountBinding() async throws {
        let macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
        let env = try await PebbleEnvironment.start(["PEBBLE_EAB_KID": "kid-sbs", "PEBBLE_EAB_KEY": macKey])
        defer { env.stop() }
        let root = env.path + "/root"
        let missing = await #expect(throws: ACMEError.self) { try await issue(env, ["eab.example.com"], root: root) }
        #expect(missing?.kind == .accountSetup)
        let wrong = await #expect(throws: ACMEError.self) {
            try await issue(
                env, ["eab.example.com"], root: root,
                eab: try ExternalAccountBinding(
                    keyID: "kid-sbs", base64urlKey: "d3Jvbmcta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMtLS0"))
        }
        #expect(wrong?.kind != nil)
        let issued = try await issue(
            env, ["eab.example.com"], root: root,
            eab: try ExternalAccountBinding(keyID: "kid-sbs", base64urlKey: macKey))
        #expect(try env.verifyChain(liveDirectory: issued.liveDirectory).contains("cert.pem: OK"))
    }

    // An EAB key id the CA does not know was reported as "could not verify control of the domain" with the
    // HTTP-01 remedy. It is the account binding the CA refused: the error names the key id (never the key) and
    // says to check the EAB credentials. The same for a known key id with the wrong HMAC key.
    @Test func aRefusedBindingNamesTheKeyIDAndTheEABCredentials() async throws {
        let macKey = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W"
        let env = try await PebbleEnvironment.start(["PEBBLE_EAB_KID": "kid-sbs", "PEBBLE_EAB_KEY": macKey])
        defer { env.stop() }
        let root = env.path + "/root"
        let cases = [("kid-unknown", macKey), ("kid-sbs", "d3Jvbmcta2V5LW9mLXRoaXJ0eS10d28tYnl0ZXMtLS0")]
        for (kid, key) in cases {
            let error = await #expect(throws: ACMEError.self) {
                try await issue(
                    env, ["eab.example.com"], root: root, eab: try ExternalAccountBinding(keyID: kid, base64urlKey: key)
                )
            }
            let shown = (error?.message ?? "") + "\n" + (error?.remedy ?? "")
            #expect(error?.kind == .accountSetup, "\(kid): \(shown)")
            #expect(shown.contains("\"\(kid)\""), "\(kid): \(shown)")
            #expect(error?.remedy.contains("Check the EAB credentials") == true, "\(kid): \(shown)")
            #expect(!shown.contains("verify control") && !shown.contains("acme-challenge"), "\(kid): \(shown)")
            #expect(!shown.contains(key), "the HMAC key is never shown")
        }
    }

    // `sbs renew` swaps the live files through the same code: a live path that is no longer sbs's (a folder of the
    // user's put there since) is refused before the CA is asked anything, its renewal window included.
    @Test func renewalRefusesALivePathSbsNoLongerOwnsBeforeAskingTheCA() async throws {
        let env = try await PebbleEnvironment.start()
        defer { env.stop() }
        let root = env.path + "/root"
        let issued = try await issue(env, ["owned.example.com"], root: root)
        let live = issued.liveDirectory
        // The user's folder: a copy of the certificate files, and a file of their own.
        let files = try LiveFiles.fileNames.map { try String(contentsOfFile: live + "/" + $0, encoding: .utf8) }
        try FileManager.default.removeItem(atPath: live)
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        for (name, text) in zip(LiveFiles.fileNames, files) {
            try text.write(toFile: live + "/" + name, atomically: true, encoding: .utf8)
        }
        try "mine\n".write(toFile: live + "/notes.txt", atomically: true, encoding: .utf8)
        let counter = RequestCounter()
        let issuer = CertificateIssuer(transport: { options in counter.wrap(CurlTransport(options: options)) })
        await #expect {
            _ = try await issuer.renewIfDue(liveDirectory: live, accountDirectory: root + "/etc/sbs/acme", force: true)
        } throws: { error in
            (error as? ACMEError)?.message.contains("sbs will not replace \(live)") == true
        }
        #expect(counter.count == 0, "no request reached the CA")
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: live).sorted()
                == (LiveFiles.fileNames + ["notes.txt"]).sorted())
        #expect(try String(contentsOfFile: live + "/cert.pem", encoding: .utf8) == files[0])
        #expect(!FileManager.default.fileExists(atPath: root + "/etc/sbs/ssl/archive/owned.example.com/0"))
    }
}

/// Counts the requests a real transport sends.
final class RequestCounter: Sendable {
    private let sent = Mutex(0)
    var count: Int { sent.withLock { $0 } }

    struct Counting: HTTPTransport {
        let inner: any HTTPTransport
        let counter: RequestCounter
        func send(_ request: HTTPRequest) async throws -> HTTPResponse {
            counter.sent.withLock { $0 += 1 }
            return try await inner.send(request)
        }
    }

    func wrap(_ transport: any HTTPTransport) -> any HTTPTransport { Counting(inner: transport, counter: self) }
}
