import Crypto
import Deploy
import Foundation
import HTTPClient
import Processes
import SBSCore
import SwiftASN1
import Synchronization
import TestSupport
import Testing
import X509

@testable import ACME
@testable import Verify

/// Certificates made in-process: a CA and leaves it signs, or a self-signed leaf (as `tls.mode: self-signed`
/// installs it).
struct TestPKI {
    let caKey = P256.Signing.PrivateKey()
    let caName: DistinguishedName
    let caCertificate: Certificate

    init(name: String = "sbs verify test CA") throws {
        caName = try DistinguishedName { CommonName(name) }
        let now = Date()
        let caKey = self.caKey
        caCertificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(caKey.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(3650 * 86400),
            issuer: caName, subject: caName, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: nil))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: Certificate.PublicKey(caKey.publicKey))
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
    }

    var caPEM: String { get throws { try caCertificate.serializeAsPEM().pemString + "\n" } }

    /// A leaf for `names` valid `days` from now, signed by the CA: (certificate PEM, key PEM).
    func leaf(_ names: [String], days: Double = 90) throws -> (certificate: String, key: String) {
        let key = P256.Signing.PrivateKey()
        let now = Date()
        let subject = try DistinguishedName { CommonName(names[0]) }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(days * 86400),
            issuer: caName, subject: subject, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth])
                SubjectAlternativeNames(names.map { GeneralName.dnsName($0) })
                AuthorityKeyIdentifier(keyIdentifier: try caCertificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: Certificate.PrivateKey(caKey))
        return (try certificate.serializeAsPEM().pemString + "\n", key.pemRepresentation + "\n")
    }
}

extension TestPKI {
    /// The CA in `caFile`, and in `folder` a leaf for `names` valid `days` from now as nginx reads it:
    /// `fullchain.pem` (the leaf, then the CA) and `privkey.pem` (0600).
    func install(names: [String], days: Double = 90.5, caFile: String, in folder: String) throws {
        let leaf = try leaf(names, days: days)
        try AtomicFile.write(try caPEM, to: caFile)
        try AtomicFile.write(leaf.certificate + (try caPEM), to: folder + "/fullchain.pem")
        try AtomicFile.write(leaf.key, to: folder + "/privkey.pem", mode: 0o600)
    }
}

let testProject = ComposeProject(name: "sbs-test", directory: "/opt/sbs")

func makeTarget(
    names: [String] = ["shop.test", "www.shop.test"], httpPort: Int = 80, httpsPort: Int = 443,
    hsts: HSTSPolicy? = .standard, trust: VerifyTarget.Trust = .system,
    profile: VerifyTarget.ProfileExpectation? = .init(ollamaModels: nil, monitoring: false)
) -> VerifyTarget {
    VerifyTarget(
        domain: names[0], names: names, httpPort: httpPort, httpsPort: httpsPort, hsts: hsts,
        trust: trust, project: testProject, profile: profile)
}

extension VerifyReport {
    subscript(id: String) -> VerifyCheck? { checks.first { $0.id == id } }
}

extension Array where Element == VerifyCheck {
    subscript(id: String) -> VerifyCheck? { first { $0.id == id } }
}
