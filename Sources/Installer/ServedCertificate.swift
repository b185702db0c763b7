import ACME
import Deploy
import FoundationEssentials
import HTTPClient
import SBSCore
import StepGraph
import X509

/// Where this server's HTTPS site is reached from the server itself: the domain (for SNI), its port, and the
/// address the connection goes to (as `verify` connects: hairpin-safe, before DNS has spread).
struct HTTPSEndpoint: Codable, Hashable, Sendable {
    var name: String
    var port: Int
    var address: String = "127.0.0.1"

    var url: String { "https://" + name + (port == 443 ? "" : ":\(port)") + "/" }
    var resolve: String { "\(name):\(port):" + (address.contains(":") ? "[\(address)]" : address) }
}

/// nginx reads its certificate when it starts or reloads, and serves that one from memory until the next reload.
/// A certificate replaced while it runs — by `obtain-certificate` in an install that changes no configuration (a
/// re-issue, a new CA), a renewal whose reload failed, a file replaced by hand — is not served until then. This
/// compares the certificate nginx presents with the live one and reloads nginx when they differ.
struct ServedCertificate {
    let endpoint: HTTPSEndpoint
    /// The live folder (`cert.pem` is the leaf nginx must serve).
    let liveDirectory: String
    /// Reads the certificate presented at the endpoint.
    var probe: any CertificateProbe = TLSCertificateProbe()
    /// How long a reload may take to show (old workers finish their connections while new ones start).
    var settle: Duration = .seconds(30)

    /// Makes nginx serve the live certificate: nothing when it does already, else `nginx -t` and a graceful
    /// reload, then waits until the certificate presented is the live one.
    /// - Throws: `UserError` when the live certificate cannot be read, the reload fails, or nginx still serves
    ///   another certificate after it.
    func ensureServed(_ driver: ComposeDriver, log: StepLog) async throws {
        let live = try liveCertificate()
        switch await served() {
        case .success(let served) where served == live:
            log.progress("nginx serves the live certificate (serial \(live.serialNumber))")
            return
        case .success(let served):
            log.progress(
                "nginx serves the certificate with serial \(served.serialNumber) (\(served.issuer)); the live one is serial \(live.serialNumber) (\(live.issuer)): reloading nginx"
            )
        case .failure(let failure):
            log.progress(
                "the certificate nginx serves could not be read (\(failure.detail)): reloading nginx so that it reads the live one"
            )
        }
        guard try await driver.reloadNginx() else {
            throw UserError(
                "The stack's nginx is not running, so it cannot serve the certificate in \(liveDirectory).",
                remedy:
                    "Look at `\(driver.command(["logs", "--tail", "50", "nginx"]).joined(separator: " "))`."
            )
        }
        let clock = ContinuousClock()
        let end = clock.now.advanced(by: settle)
        var last: Result<Certificate, HTTPTransportError>
        repeat {
            last = await served()
            if case .success(let served) = last, served == live {
                log.progress("nginx reloaded: it serves the live certificate (serial \(live.serialNumber))")
                return
            }
            do { try await Task.sleep(for: .milliseconds(500)) } catch {
                throw UserError("Interrupted while waiting for nginx to reload.")
            }
        } while clock.now < end
        let seen: String
        switch last {
        case .success(let served): seen = "the certificate with serial \(served.serialNumber) (\(served.issuer))"
        case .failure(let failure): seen = "no certificate that could be read (\(failure.detail))"
        }
        throw UserError(
            "\(settle) after a reload, nginx still presents \(seen) on \(endpoint.url), not the live one in \(liveDirectory) (serial \(live.serialNumber)).",
            remedy:
                "Restart nginx (`\(driver.command(["restart", "nginx"]).joined(separator: " "))` in \(driver.project.directory))."
        )
    }

    /// The leaf of `cert.pem` in the live folder.
    func liveCertificate() throws -> Certificate {
        let path = liveDirectory + "/cert.pem"
        guard let text = try AtomicFile.readText(path, limit: .pem) else {
            throw UserError(
                "\(path) does not exist.",
                remedy: "Obtain a certificate again: `sbs install --from obtain-certificate`.")
        }
        do { return try CertificateTools.parseChain(text, what: path)[0] } catch let error as ACMEError {
            throw UserError(error.message, remedy: error.remedy)
        }
    }

    func served() async -> Result<Certificate, HTTPTransportError> { await probe.presented(at: endpoint) }
}

/// What an HTTPS endpoint presents.
protocol CertificateProbe: Sendable {
    /// The leaf certificate presented at `endpoint`, or why none could be read (connection refused, TLS failure).
    func presented(at endpoint: HTTPSEndpoint) async -> Result<Certificate, HTTPTransportError>
}

/// The real probe: a HEAD request over libcurl to the endpoint's address with its name as SNI.
struct TLSCertificateProbe: CertificateProbe {
    /// The leaf nginx presents for `endpoint.name`, whoever issued it (the connection trusts any certificate: it
    /// only reads which one is served, and sends nothing).
    func presented(at endpoint: HTTPSEndpoint) async -> Result<Certificate, HTTPTransportError> {
        let transport = CurlTransport(
            options: HTTPOptions(
                resolve: [endpoint.resolve], connectTimeout: .seconds(5), timeout: .seconds(10),
                userAgent: "sbs (certificate check)", maxResponseBytes: 1 << 20,
                certificateChain: true, verifyPeer: false))
        do {
            let response = try await transport.send(HTTPRequest(method: .head, url: endpoint.url))
            guard let pem = response.certificates.first,
                let leaf = try? CertificateTools.parseChain(pem, what: "the presented certificate").first
            else {
                return .failure(
                    HTTPTransportError(kind: .tls, url: endpoint.url, detail: "no readable certificate was presented"))
            }
            return .success(leaf)
        } catch let error as HTTPTransportError {
            return .failure(error)
        } catch {
            return .failure(HTTPTransportError(kind: .other, url: endpoint.url, detail: String(describing: error)))
        }
    }
}
