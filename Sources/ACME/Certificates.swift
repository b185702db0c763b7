import Crypto
import FoundationEssentials
import SwiftASN1
import X509

/// Certificate requests, parsing and the small X.509 facts ACME needs.
public enum CertificateTools {
    /// A DER CSR for `domains` signed by `key`: subject CN = the first domain, and a subjectAltName extension
    /// request with exactly the domains, in order (RFC 8555 section 7.4: the CSR's names must match the order's).
    /// - Throws: `ACMEError` (`.local`) when the request cannot be encoded (not expected for DNS names).
    public static func makeCSR(domains: [String], key: P256.Signing.PrivateKey) throws -> [UInt8] {
        guard let first = domains.first else {
            throw ACMEError.local("No domain to request a certificate for.", remedy: "Pass at least one --domain.")
        }
        do {
            let extensions = try Certificate.Extensions {
                SubjectAlternativeNames(domains.map { GeneralName.dnsName($0) })
            }
            // CN is limited to 64 characters; longer names live in the SAN only.
            let subject = try DistinguishedName {
                if first.count <= 64 { CommonName(first) }
            }
            let csr = try CertificateSigningRequest(
                version: .v1, subject: subject, privateKey: Certificate.PrivateKey(key),
                attributes: CertificateSigningRequest.Attributes([
                    try CertificateSigningRequest.Attribute(ExtensionRequest(extensions: extensions))
                ]),
                signatureAlgorithm: .ecdsaWithSHA256)
            var serializer = DER.Serializer()
            try serializer.serialize(csr)
            return serializer.serializedBytes
        } catch let error as ACMEError {
            throw error
        } catch {
            throw ACMEError.local("Could not build the certificate request: \(error)", remedy: "Report this to sbs.")
        }
    }

    /// The certificates of a PEM chain, leaf first.
    /// - Throws: `ACMEError` (`.local` with `what` in the message) when there is none or one does not parse.
    public static func parseChain(_ pem: String, what: String) throws -> [Certificate] {
        let blocks = pemBlocks(in: pem)
        guard !blocks.isEmpty else {
            throw ACMEError.local(
                "\(what) holds no PEM certificate.", remedy: "Give a PEM file (-----BEGIN CERTIFICATE-----).")
        }
        return try blocks.map { block in
            do { return try Certificate(pemEncoded: block) } catch {
                throw ACMEError.local(
                    "\(what) holds a certificate that does not parse: \(error)", remedy: "Check the file.")
            }
        }
    }

    /// The DNS names of the certificate's subjectAltName, in order.
    public static func dnsNames(of certificate: Certificate) -> [String] {
        guard let san = try? certificate.extensions.subjectAlternativeNames else { return [] }
        return san.compactMap { name in
            if case .dnsName(let value) = name { return value }
            return nil
        }
    }

    /// ARI certID (RFC 9773 section 4.1): base64url(AKI keyIdentifier) "." base64url(serial's DER value bytes).
    /// - Throws: `ACMEError` (`.local`) when the certificate has no Authority Key Identifier.
    public static func certID(of certificate: Certificate) throws -> String {
        guard let aki = try? certificate.extensions.authorityKeyIdentifier, let keyID = aki.keyIdentifier else {
            throw ACMEError.local(
                "The certificate has no Authority Key Identifier, so ARI cannot identify it.",
                remedy: "Renewal falls back to the lifetime rule.")
        }
        return Base64URL.encode(keyID) + "." + Base64URL.encode(derIntegerContent(certificate.serialNumber.bytes))
    }

    /// The content octets of a DER INTEGER for a non-negative big-endian magnitude: no redundant leading zeros,
    /// and a 0x00 in front when the high bit is set. (`SerialNumber.bytes` can hold either form.)
    static func derIntegerContent(_ magnitude: some Collection<UInt8>) -> [UInt8] {
        var bytes = Array(magnitude.drop(while: { $0 == 0 }))
        if bytes.isEmpty { return [0] }
        if bytes[0] >= 0x80 { bytes.insert(0, at: 0) }
        return bytes
    }

    /// Whether `privateKey` is the key of `certificate`.
    public static func matches(_ privateKey: Certificate.PrivateKey, _ certificate: Certificate) -> Bool {
        privateKey.publicKey == certificate.publicKey
    }

    public static func pem(of certificate: Certificate) throws -> String {
        do { return try certificate.serializeAsPEM().pemString + "\n" } catch {
            throw ACMEError.local("Could not encode a certificate as PEM: \(error)", remedy: "Report this to sbs.")
        }
    }

    /// A self-signed certificate for `domains` (TLS mode `self-signed`, for LAN-only installs): P-256 key,
    /// SANs exactly the domains, serverAuth, valid from an hour ago (clock skew) for `days`.
    /// - Returns: certificate PEM and key PEM (PKCS#8).
    /// - Throws: `ACMEError` (`.local`) when it cannot be built.
    public static func makeSelfSigned(
        domains: [String], days: Int = 397, now: Date = Date()
    ) throws -> (certificatePEM: String, keyPEM: String) {
        guard let first = domains.first else {
            throw ACMEError.local("No domain for the self-signed certificate.", remedy: "Give the server's name.")
        }
        let key = P256.Signing.PrivateKey()
        do {
            let name = try DistinguishedName { CommonName(String(first.prefix(64))) }
            var serial = [UInt8](repeating: 0, count: 16)
            for index in serial.indices { serial[index] = UInt8.random(in: 0...255) }
            serial[0] &= 0x7f
            let certificate = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(bytes: serial),
                publicKey: Certificate.PublicKey(key.publicKey),
                notValidBefore: now.addingTimeInterval(-3600),
                notValidAfter: now.addingTimeInterval(TimeInterval(days) * 86400),
                issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
                extensions: try Certificate.Extensions {
                    Critical(BasicConstraints.notCertificateAuthority)
                    Critical(KeyUsage(digitalSignature: true))
                    try ExtendedKeyUsage([.serverAuth])
                    SubjectAlternativeNames(domains.map { GeneralName.dnsName($0) })
                    SubjectKeyIdentifier(hash: Certificate.PublicKey(key.publicKey))
                },
                issuerPrivateKey: Certificate.PrivateKey(key))
            return (try pem(of: certificate), key.pemRepresentation + "\n")
        } catch let error as ACMEError {
            throw error
        } catch {
            throw ACMEError.local(
                "Could not build the self-signed certificate: \(error)", remedy: "Report this to sbs.")
        }
    }
}
