import Foundation

/// A mail relay on a loopback port for the alert tests: scripts/test/smtp-sink.py with STARTTLS (a certificate for
/// `localhost`, made here with openssl, which is also the only root a client of the test must trust: Go reads it
/// from SSL_CERT_FILE) and a login. Each mail it takes is a `.eml` file in `mailDirectory`.
public final class MailRelay: Sendable {
    public let port: Int
    /// The relay's certificate (PEM): `SSL_CERT_FILE` of a client that must trust it.
    public let certificate: String
    public let mailDirectory: String
    private let pid: pid_t

    /// - Parameter folder: a fresh folder of the test's, for the certificate, the key and the mail.
    public init(folder: String, user: String, password: String, sourceFile: String = #filePath) throws {
        let repository = URL(fileURLWithPath: sourceFile).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        certificate = folder + "/relay.pem"
        mailDirectory = folder + "/mail"
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", folder + "/relay.key",
            "-out", certificate,
        ]
        openssl.standardOutput = FileHandle.nullDevice
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        guard openssl.terminationStatus == 0 else { throw MailRelayError("openssl could not make the certificate") }
        port = try freeLoopbackPort()
        guard
            let pid = spawnQuietly(
                [
                    "python3", repository + "/scripts/test/smtp-sink.py", String(port), mailDirectory, "--login",
                    user, password, "--tls", certificate, folder + "/relay.key",
                ], ownProcessGroup: true)
        else { throw MailRelayError("scripts/test/smtp-sink.py could not be started") }
        self.pid = pid
    }

    /// The mails taken so far, by file name.
    public var mails: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: mailDirectory)) ?? []).filter { $0.hasSuffix(".eml") }
            .sorted()
    }

    public func text(of mail: String) throws -> String {
        try String(contentsOfFile: mailDirectory + "/" + mail, encoding: .utf8)
    }

    public func stop() {
        kill(-pid, SIGKILL)
        _ = waitForExit(pid)
    }
}

public struct MailRelayError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Debian's real Alertmanager on a loopback port with `configFile`, trusting `certificate` (a `MailRelay`'s) as its
/// only root.
public final class LocalAlertmanager: Sendable {
    public let port: Int
    private let pid: pid_t

    public init(configFile: String, storage: String, trusting certificate: String) throws {
        port = try freeLoopbackPort()
        guard
            let pid = spawnQuietly(
                [
                    "prometheus-alertmanager", "--config.file=\(configFile)", "--storage.path=\(storage)",
                    "--web.listen-address=127.0.0.1:\(port)", "--cluster.listen-address=",
                ], environment: ["SSL_CERT_FILE": certificate], ownProcessGroup: true)
        else { throw MailRelayError("prometheus-alertmanager could not be started") }
        self.pid = pid
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    public func stop() {
        kill(-pid, SIGKILL)
        _ = waitForExit(pid)
    }
}
