import Foundation
import TestSupport
import Testing

/// An office proxy on a loopback port (scripts/test/counting-proxy.py) that logs every request it serves. Names
/// ending in .test resolve through it alone: Pebble reached as `pebble.test` was reached through the proxy.
final class CountingProxy {
    let dir: String
    let process: Process
    let port: Int

    init() throws {
        dir = scratchDirectory("proxy")
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", repositoryRoot + "/scripts/test/counting-proxy.py", dir + "/requests.log", dir + "/port",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var port: Int?
        for _ in 0..<200 {
            if let text = read(dir + "/port"), let number = Int(text) {
                port = number
                break
            }
            usleep(50_000)
        }
        guard let port else {
            process.terminate()
            throw NSError(
                domain: "CountingProxy", code: 1,
                userInfo: [NSLocalizedDescriptionKey: "counting-proxy.py did not start within 10 s"])
        }
        self.port = port
    }

    var url: String { "http://127.0.0.1:\(port)" }
    /// The requests served so far, one line each ("CONNECT host:port", "GET http://…").
    var requests: [String] { (read(dir + "/requests.log") ?? "").split(separator: "\n").map(String.init) }

    deinit {
        // KILL: the test runner's blocked signals are inherited, TERM may wait.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite(.serialized) struct ProxyTests {
    static let tools = ConditionTrait.requires(
        "pebble", "pebble-challtestsrv", "nginx", "openssl", "python3",
        install: "apt-get install -y pebble nginx openssl python3")

    /// `sbs cert issue` and `sbs renew` reach the CA through the proxy the environment names, and straight where
    /// `no_proxy` says so: without the proxy the CA's name does not even resolve.
    @Test(tools, .timeLimit(.minutes(5)))
    func theCAIsReachedThroughTheEnvironmentsProxyExceptWhereNoProxySaysSo() async throws {
        let root = scratchDirectory("proxy-cert")
        let webroot = root + "/webroot"
        try FileManager.default.createDirectory(atPath: webroot, withIntermediateDirectories: true)
        let acme = try LocalACME(webroot: webroot)
        let proxy = try CountingProxy()
        let directory = acme["PEBBLE_DIRECTORY"].replacingOccurrences(of: "127.0.0.1", with: "pebble.test")
        let caHost = try #require(URL(string: directory).flatMap { url in url.port.map { "pebble.test:\($0)" } })
        func issue(_ environment: [String: String]) async throws -> Run {
            try await sbs(
                [
                    "cert", "issue", "--domain", "proxied.example.com", "--webroot", webroot, "--directory", directory,
                    "--ca-bundle", acme["PEBBLE_CA_BUNDLE"], "--root", root, "--quiet",
                ], environment: environment)
        }

        let direct = try await issue([:])
        #expect(direct.status != 0, "the CA was reached without the proxy: \(direct.stderr)")
        #expect(direct.stderr.contains("pebble.test"), "\(direct.stderr)")
        #expect(proxy.requests.isEmpty)

        let through = try await issue(["https_proxy": proxy.url])
        #expect(through.status == 0, "\(through.stderr)")
        let served = proxy.requests
        #expect(!served.isEmpty && served.allSatisfy { $0 == "CONNECT \(caHost)" }, "\(served)")

        let bypassed = try await issue(["https_proxy": proxy.url, "no_proxy": "example.org,pebble.test"])
        #expect(bypassed.status != 0, "no_proxy was not honoured: \(bypassed.stderr)")
        #expect(proxy.requests.count == served.count, "\(proxy.requests)")

        // Upper-case names, as Go programs and many shells' profiles set them.
        let renew = try await sbs(["renew", "--force", "--root", root], environment: ["HTTPS_PROXY": proxy.url])
        #expect(renew.status == 0, "\(renew.stderr)")
        #expect(renew.stderr.contains("renewed"), "\(renew.stderr)")
        #expect(proxy.requests.count > served.count && proxy.requests.allSatisfy { $0 == "CONNECT \(caHost)" })
    }

    /// An install with `proxy.url` in its answers orders its certificate through that proxy while the self-check,
    /// pinned to this server's address, goes straight to it; `sbs renew` (a timer: no proxy in its environment)
    /// takes the proxy from the kept answers.
    @Test(tools, .timeLimit(.minutes(5)))
    func anInstallOrdersThroughTheAnswersProxyAndItsRenewalsToo() async throws {
        let root = scratchDirectory("proxy-install")
        let webroot = root + "/var/lib/sbs/webroot"
        try FileManager.default.createDirectory(atPath: webroot, withIntermediateDirectories: true)
        let acme = try LocalACME(webroot: webroot)
        let proxy = try CountingProxy()
        let directory = acme["PEBBLE_DIRECTORY"].replacingOccurrences(of: "127.0.0.1", with: "pebble.test")
        // The certificate step's answers, with the CA by the name only the proxy resolves, and the proxy.
        let answers =
            CertificateStep().answers(root, acme: acme, tls: "acme")
            .replacingOccurrences(of: acme["PEBBLE_DIRECTORY"], with: directory)
            + "proxy:\n  url: \(proxy.url)\n  no_proxy: [intranet.example.test]\n"
        try answers.write(toFile: root + "/site.yaml", atomically: true, encoding: .utf8)
        let run = try await sbs(
            [
                "install", "--answers", root + "/site.yaml", "--non-interactive", "--through", "obtain-certificate",
                "--root", root, "--sysroot", try fixtureHost(),
            ] + CertificateStep.dockerSteps, environment: testEnvironment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("through the proxy \(proxy.url)"), "\(run.stderr)")
        #expect(run.stderr.contains("self-check"), "\(run.stderr)")
        let served = proxy.requests
        // Only the CA went through it: the self-check (http://shop.example.test:PORT/ pinned to 127.0.0.1) did not.
        #expect(!served.isEmpty && served.allSatisfy { $0.hasPrefix("CONNECT pebble.test:") }, "\(served)")
        #expect(FileManager.default.fileExists(atPath: root + "/etc/sbs/ssl/live/shop.example.test/cert.pem"))

        // The stack was never started here (no engine): without its compose file, renew has no nginx to reload.
        try FileManager.default.removeItem(atPath: root + "/opt/sbs/docker-compose.yml")
        let renew = try await sbs(["renew", "--force", "--root", root])
        #expect(renew.status == 0, "\(renew.stderr)")
        #expect(proxy.requests.count > served.count, "the renewal did not use the answers' proxy")
        #expect(proxy.requests.allSatisfy { $0.hasPrefix("CONNECT pebble.test:") }, "\(proxy.requests)")
    }
}
