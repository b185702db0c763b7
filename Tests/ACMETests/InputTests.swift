import Crypto
import Foundation
import HTTPClient
import Processes
import SBSCore
import TestSupport
import Testing

@testable import ACME

/// What sbs refuses before asking a CA, and what it does with a CA that misbehaves: each message says what is
/// wrong.
@Suite("Inputs refused with a reason")
struct InputTests {
    @Test func plainHTTPDirectoriesOnlyOnLoopback() throws {
        for url in [
            "http://127.0.0.1:14000/dir", "http://localhost/directory", "http://[::1]:8080/acme", "http://127.8.9.1/x",
        ] {
            #expect(try ACMEServer(url).url == url)
        }
        for url in ["http://acme.example.com/directory", "http://10.0.0.5/dir", "http://127.0.0.1.evil.example/dir"] {
            #expect { try ACMEServer(url) } throws: { error in
                (error as? UserError)?.message.contains("unencrypted") == true
            }
        }
        #expect(try ACMEServer("https://acme.example.com/directory").url == "https://acme.example.com/directory")
        #expect(try ACMEServer("letsencrypt").url == ACMEServer.letsEncryptURL)
    }

    // An empty directory once meant Let's Encrypt production without a word.
    @Test func anEmptyDirectoryIsRefused() throws {
        #expect { try ACMEServer("") } throws: { error in
            (error as? UserError)?.message.hasPrefix("An empty ACME directory is not a directory") == true
        }
    }

    // A user name or password in the directory URL is refused, and the refusal shows neither: ACME needs no
    // credential there, and one would be printed, logged and kept with the renewal settings.
    @Test(arguments: [
        "https://user:password@acme.example.com/dir", "http://user:password@127.0.0.1:14000/dir",
        "http://user:password@acme.example.com/dir", "user:password@acme.example.com/dir",
        "https://user:password@acme.example.com:8443/dir?x=a@b", "http://user@example.com/dir",
    ])
    func credentialsInTheDirectoryURLAreRefusedUnshown(_ url: String) throws {
        #expect { try ACMEServer(url) } throws: { error in
            guard let error = error as? UserError else { return false }
            let shown = error.message + (error.remedy ?? "")
            return !shown.contains("password@")
                && !shown.contains("user@") && !shown.contains("user:") && shown.contains("***@")
        }
    }

    @Test func atMostOneHundredNames() throws {
        let names = (1...101).map { "n\($0).example.com" }
        #expect(try CertificateIssuer.normalize(Array(names.prefix(100))).count == 100)
        #expect { try CertificateIssuer.normalize(names) } throws: { error in
            (error as? ACMEError)?.message.contains("at most 100") == true
        }
        // Duplicates (any letter case) count once.
        #expect(try CertificateIssuer.normalize(Array(names.prefix(100)) + ["N1.example.com"]).count == 100)
    }

    // Everything here is refused before any request: were one sent, it would meet a closed loopback port and
    // the error would say so.
    func refusedLocally(
        domains: [String] = ["shop.example.com"], email: String? = nil, liveDirectory: String? = nil,
        sourceLocation: SourceLocation = #_sourceLocation, _ check: (ACMEError) -> Bool
    ) async {
        await #expect(sourceLocation: sourceLocation) {
            _ = try await CertificateIssuer().issue(
                domains: domains, email: email, webroot: temporaryFolder(),
                directory: try ACMEServer("https://127.0.0.1:1/dir"),
                accountDirectory: temporaryFolder(), liveDirectory: liveDirectory ?? temporaryFolder() + "/live")
        } throws: { error in
            guard let error = error as? ACMEError else { return false }
            return error.kind == .local && check(error)
        }
    }

    @Test func theContactAddressIsChecked() async {
        for bad in ["a b@x.example", "a@b@example.com", "ops@localhost", "ops@example.com\nx", "<ops>@example.com"] {
            await refusedLocally(email: bad) { $0.message.contains("is not a valid e-mail address") }
        }
    }

    @Test func aLivePathSbsDidNotMakeIsRefusedBeforeTheCAIsAsked() async throws {
        let dir = temporaryFolder()
        try FileManager.default.createDirectory(atPath: dir + "/d/sub", withIntermediateDirectories: true)
        try "important\n".write(toFile: dir + "/d/passwd", atomically: true, encoding: .utf8)
        await refusedLocally(liveDirectory: dir + "/d") { $0.message.contains("sbs will not replace \(dir)/d") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["d"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/d").sorted() == ["passwd", "sub"])
    }

    @Test(arguments: ["127.0.0.1", "10.1.2.3", "192.168.0.1."])
    func anIPAddressIsNotADomain(_ address: String) {
        #expect { try CertificateIssuer.normalize(["shop.example.com", address]) } throws: { error in
            (error as? ACMEError)?.message.contains("is an IP address") == true
        }
    }

    @Test func aWebrootThatIsAFileSaysSo() throws {
        let dir = temporaryFolder()
        let file = dir + "/index.html"
        try "hi".write(toFile: file, atomically: true, encoding: .utf8)
        #expect { try CertificateIssuer.checkWebroot(file) } throws: { error in
            (error as? ACMEError)?.message == "The webroot \(file) is a file, not a folder."
        }
        #expect { try CertificateIssuer.checkWebroot(dir + "/missing") } throws: { error in
            (error as? ACMEError)?.message.contains("does not exist") == true
        }
        try CertificateIssuer.checkWebroot(dir)
    }

    @Test func aGarbageCABundleIsNotAPEMBundle() async throws {
        let dir = temporaryFolder()
        try "this is not a certificate\n".write(toFile: dir + "/garbage.pem", atomically: true, encoding: .utf8)
        try "-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----\n".write(
            toFile: dir + "/broken.pem", atomically: true, encoding: .utf8)
        for name in ["garbage.pem", "broken.pem"] {
            #expect { try CertificateIssuer.checkCABundle(dir + "/" + name) } throws: { error in
                (error as? ACMEError)?.message.contains("is not a PEM bundle") == true
            }
        }
        // Through the issuer: refused before any connection (were one made, it would meet a closed loopback port).
        let webroot = temporaryFolder()
        await #expect {
            _ = try await CertificateIssuer().issue(
                domains: ["shop.example.com"], email: nil, webroot: webroot,
                directory: try ACMEServer("https://127.0.0.1:1/dir"),
                caBundle: dir + "/garbage.pem", accountDirectory: temporaryFolder(),
                liveDirectory: temporaryFolder() + "/live")
        } throws: { error in
            (error as? ACMEError)?.message.contains("not a PEM bundle") == true
        }
    }

    // A directory URL that streams without end took the client to 8 GB: the response is cut off at the bound and
    // the error names the URL.
    @Test(.requires("/usr/bin/python3", install: "apt-get install -y python3"), .timeLimit(.minutes(1)))
    func anEndlessResponseIsCutOffNamingTheURL() async throws {
        let server = try await EndlessServer.start()
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/directory"
        let transport = CurlTransport(options: HTTPOptions(maxResponseBytes: 1 << 20))
        await #expect { _ = try await transport.send(HTTPRequest(method: .get, url: url)) } throws: { error in
            guard let error = error as? HTTPTransportError else { return false }
            return error.kind == .tooLarge && error.url == url && error.detail.contains("1024 KiB")
        }
        // Through the client: an ACME error that names the URL and says what to check.
        let client = ACMEClient(
            directoryURL: url, accountKey: .init(), accountURL: nil,
            registration: AccountRegistration(email: nil), transport: CurlTransport(options: HTTPOptions()),
            clock: SystemACMEClock(), progress: { _ in })
        await #expect { _ = try await client.loadDirectory() } throws: { error in
            guard let error = error as? ACMEError else { return false }
            return error.message.contains(url) && error.message.contains("4096 KiB")
                && error.remedy.contains("directory URL")
        }
    }

    // Ctrl-C while a CA keeps a request waiting (it accepted the connection, read the request and never answers)
    // stops the transfer at once instead of after the transfer timeout (45 s here).
    @Test(.timeLimit(.minutes(1)))
    func aCancelledRequestStopsWithoutWaitingForTheTimeout() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0 && listen(listener, 8) == 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        let port = Int(UInt16(bigEndian: address.sin_port))
        let transport = CurlTransport(options: HTTPOptions(timeout: .seconds(45)))
        let request = Task {
            try await transport.send(HTTPRequest(method: .get, url: "http://127.0.0.1:\(port)/directory"))
        }
        defer { request.cancel() }
        // Cancelled once the request has arrived (the transfer is waiting for the answer), not after a guessed delay.
        let connection = await onOwnThread { Self.acceptRequest(on: listener, within: 20_000) }
        defer { if connection >= 0 { close(connection) } }
        try #require(connection >= 0, "the request never arrived")
        let clock = ContinuousClock()
        let cancelled = clock.now
        request.cancel()
        await #expect(throws: CancellationError.self) { _ = try await request.value }
        let took = clock.now - cancelled
        // Far below the 45 s timeout it would otherwise wait for, with room for a loaded machine (6.5 s was seen
        // while another build ran beside the tests).
        #expect(took < .seconds(20), "the cancelled transfer went on for \(took)")
    }

    /// Accepts one connection on `listener` and reads from it until the end of a request's headers; the connected
    /// socket, or -1 when none came (or no complete request) within `milliseconds`. Blocks: run it on a thread.
    static func acceptRequest(on listener: Int32, within milliseconds: Int32) -> Int32 {
        var pending = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        guard poll(&pending, 1, milliseconds) == 1 else { return -1 }
        let connection = accept(listener, nil, nil)
        guard connection >= 0 else { return -1 }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !String(decoding: received, as: UTF8.self).contains("\r\n\r\n") {
            var readable = pollfd(fd: connection, events: Int16(POLLIN), revents: 0)
            let count = poll(&readable, 1, milliseconds) == 1 ? read(connection, &buffer, buffer.count) : -1
            guard count > 0 else {
                close(connection)
                return -1
            }
            received += buffer[..<count]
        }
        return connection
    }
}

func temporaryFolder() -> String {
    let path = Scratch.path("acme-input")
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// scripts/test/endless-http.py on a free loopback port, stopped by pid.
struct EndlessServer {
    let pid: pid_t
    let port: Int

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/test/endless-http.py").path
    }

    static func start() async throws -> EndlessServer {
        let portFile = temporaryFolder() + "/port"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, portFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv: [String] = ["/usr/bin/python3", script]
        let args = argv.map { strdup($0) } + [nil]
        defer { args.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, "/usr/bin/python3", &actions, nil, args, environ) == 0 else {
            throw ACMEError.local("could not start \(script)", remedy: "")
        }
        for _ in 0..<200 {
            if let text = try? String(contentsOfFile: portFile, encoding: .utf8), text.hasSuffix("\n"),
                let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return EndlessServer(pid: pid, port: port)
            }
            try await Task.sleep(for: .milliseconds(25))
        }
        kill(pid, SIGKILL)
        throw ACMEError.local("\(script) printed no port", remedy: "")
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}
