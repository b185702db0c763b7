import Crypto
import Foundation
import SwiftASN1
import TestSupport
import Testing
import X509

@testable import ACME

@Suite("JWK, JWS, key authorization")
struct JOSETests {
    // RFC 7515 appendix A.3: the ES256 example key.
    static let rfcX = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
    static let rfcY = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
    static let rfcD = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"

    static func rfcKey() throws -> P256.Signing.PrivateKey {
        let raw = try #require(Base64URL.decode(rfcD))
        return try P256.Signing.PrivateKey(rawRepresentation: raw)
    }

    @Test func rfc7638ThumbprintExample() {
        // RFC 7638 section 3.1: the RSA example key and its thumbprint.
        let jwk = RSAPublicJWK(
            e: "AQAB",
            n:
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        )
        #expect(jwk.canonicalJSON.hasPrefix(#"{"e":"AQAB","kty":"RSA","n":"0vx7"#))
        #expect(jwk.thumbprint == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func ecJWKAndThumbprintOfRFC7515Key() throws {
        let jwk = ECPublicJWK(try Self.rfcKey().publicKey)
        #expect(jwk.x == Self.rfcX)
        #expect(jwk.y == Self.rfcY)
        #expect(jwk.canonicalJSON == #"{"crv":"P-256","kty":"EC","x":"\#(Self.rfcX)","y":"\#(Self.rfcY)"}"#)
        #expect(jwk.thumbprint == "oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U")
        #expect(
            keyAuthorization(token: "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA", accountKey: jwk)
                == "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.oKIywvGUpTVTyxMQ3bwIIeQUudfr_CkLMjCE19ECD-U")
    }

    @Test func rfc7515ES256ExampleVerifies() throws {
        // RFC 7515 A.3.1: the example JWS; a raw r||s ES256 signature must verify with our check.
        let jws = FlattenedJWS(
            protected: "eyJhbGciOiJFUzI1NiJ9",
            payload: "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ",
            signature: "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
        #expect(jws.verifies(with: try Self.rfcKey().publicKey))
        var tampered = jws
        tampered.payload = "e30"
        #expect(!tampered.verifies(with: try Self.rfcKey().publicKey))
    }

    @Test func signedRequestVerifiesAndCarriesTheRightHeader() throws {
        let key = try Self.rfcKey()
        let withJWK = try FlattenedJWS.sign(
            payload: Array(#"{"termsOfServiceAgreed":true}"#.utf8), url: "https://ca.test/new-acct", nonce: "n-1",
            keyID: nil, key: key)
        // Verified with a key rebuilt from the JWK in the header, as the CA does.
        let header = try #require(withJWK.protectedHeader)
        #expect(header["alg"] == .string("ES256"))
        #expect(header["nonce"] == .string("n-1"))
        #expect(header["url"] == .string("https://ca.test/new-acct"))
        #expect(header["kid"] == nil)
        let jwk = try #require(header["jwk"]?.objectValue)
        let xText = try #require(jwk["x"]?.stringValue)
        let yText = try #require(jwk["y"]?.stringValue)
        let x = try #require(Base64URL.decode(xText))
        let y = try #require(Base64URL.decode(yText))
        let rebuilt = try P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
        #expect(withJWK.verifies(with: rebuilt))
        #expect(Base64URL.decode(withJWK.payload) == Array(#"{"termsOfServiceAgreed":true}"#.utf8))
        #expect(Base64URL.decode(withJWK.signature)?.count == 64)

        let postAsGet = try FlattenedJWS.sign(
            payload: nil, url: "https://ca.test/order/1", nonce: "n-2", keyID: "https://ca.test/acct/7", key: key)
        #expect(postAsGet.payload == "")
        #expect(postAsGet.protectedHeader?["kid"] == .string("https://ca.test/acct/7"))
        #expect(postAsGet.protectedHeader?["jwk"] == nil)
        #expect(postAsGet.verifies(with: key.publicKey))
        #expect(!postAsGet.verifies(with: P256.Signing.PrivateKey().publicKey))
    }

    @Test func externalAccountBindingIsHS256OverTheAccountJWK() throws {
        let key = try Self.rfcKey()
        let macKey = Array("a shared secret of the test CA!!".utf8)
        let eab = FlattenedJWS.externalAccountBinding(
            accountKey: key.publicKey, keyID: "kid-1", macKey: macKey, url: "https://ca.test/new-acct")
        #expect(
            eab.protectedHeader == [
                "alg": .string("HS256"), "kid": .string("kid-1"), "url": .string("https://ca.test/new-acct"),
            ])
        #expect(Base64URL.decode(eab.payload) == Array(ECPublicJWK(key.publicKey).canonicalJSON.utf8))
        let expected = HMAC<SHA256>.authenticationCode(
            for: Array((eab.protected + "." + eab.payload).utf8), using: SymmetricKey(data: macKey))
        #expect(Base64URL.decode(eab.signature) == Array(expected))
    }

    @Test func base64URL() {
        #expect(Base64URL.encode([0xfb, 0xff, 0xfe]) == "-__-")
        #expect(Base64URL.encode("a") == "YQ")
        #expect(Base64URL.decode("-__-") == [0xfb, 0xff, 0xfe])
        #expect(Base64URL.decode("YQ") == Array("a".utf8))
        #expect(Base64URL.decode("not base64!") == nil)
    }
}

@Suite("Retry-After and dates")
struct TimeTests {
    let now = Date(timeIntervalSince1970: 784_111_777)  // Sun, 06 Nov 1994 08:49:37 GMT

    @Test func seconds() {
        #expect(RetryAfter.delay("120", now: now) == .seconds(120))
        #expect(RetryAfter.delay(" 0 ", now: now) == .zero)
    }

    @Test func httpDateInAllThreeForms() {
        #expect(HTTPDate.parse("Sun, 06 Nov 1994 08:49:37 GMT") == now)
        #expect(HTTPDate.parse("Sunday, 06-Nov-94 08:49:37 GMT") == now)
        #expect(HTTPDate.parse("Sun Nov  6 08:49:37 1994") == now)
        #expect(RetryAfter.delay("Sun, 06 Nov 1994 08:50:07 GMT", now: now) == .seconds(30))
        #expect(RetryAfter.delay("Sun, 06 Nov 1994 08:00:00 GMT", now: now) == .zero, "a past date means now")
        #expect(HTTPDate.format(now) == "Sun, 06 Nov 1994 08:49:37 GMT")
    }

    @Test func rejectsGarbage() {
        #expect(RetryAfter.delay("soon", now: now) == nil)
        #expect(RetryAfter.delay("-5", now: now) == nil)
        #expect(RetryAfter.delay("Sun, 32 Nov 1994 08:49:37 GMT", now: now) == nil)
        #expect(RetryAfter.delay("", now: now) == nil)
    }

    @Test func rfc3339() {
        #expect(RFC3339.parse("1994-11-06T08:49:37Z") == now)
        #expect(RFC3339.parse("1994-11-06T10:49:37+02:00") == now)
        #expect(RFC3339.parse("1994-11-06T08:49:37.500Z") == now.addingTimeInterval(0.5))
        #expect(RFC3339.parse("1994-11-06 08:49:37") == nil)
        #expect(RFC3339.format(now) == "1994-11-06T08:49:37Z")
    }
}

@Suite("CSR and certificates")
struct CertificateTests {
    @Test func csrNamesExactlyTheDomains() throws {
        let key = P256.Signing.PrivateKey()
        let der = try CertificateTools.makeCSR(domains: ["shop.example.com", "www.shop.example.com"], key: key)
        let csr = try CertificateSigningRequest(derEncoded: der)
        #expect(csr.publicKey == Certificate.PublicKey(key.publicKey))
        #expect(csr.publicKey.isValidSignature(csr.signature, for: csr))
        #expect(csr.signatureAlgorithm == .ecdsaWithSHA256)
        #expect(csr.subject.description == "CN=shop.example.com")
        let extensions = try #require(try csr.attributes.extensionRequest).extensions
        let san = try #require(try extensions.subjectAlternativeNames)
        #expect(Array(san) == [.dnsName("shop.example.com"), .dnsName("www.shop.example.com")])
        #expect(Array(extensions).count == 1, "nothing but the SAN is requested")
    }

    @Test func csrWithoutDomainsIsRefused() {
        #expect(throws: ACMEError.self) { try CertificateTools.makeCSR(domains: [], key: P256.Signing.PrivateKey()) }
    }

    @Test func ariCertIDMatchesRFC9773Example() throws {
        // RFC 9773 section 4.1: AKI 69:88:5B:…:D4 and serial 00:87:65:43:21 → aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE
        let aki: [UInt8] = [
            0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3, 0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01,
            0xC8, 0xD4,
        ]
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("ari.example") }
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(bytes: [0x00, 0x87, 0x65, 0x43, 0x21]),
            publicKey: .init(key.publicKey), notValidBefore: Date(), notValidAfter: Date().addingTimeInterval(86400),
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions { AuthorityKeyIdentifier(keyIdentifier: aki[...]) },
            issuerPrivateKey: .init(key))
        let certID = try CertificateTools.certID(of: certificate)
        #expect(certID == "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE")
    }

    @Test func selfSignedAndFilesModes() throws {
        let dir = try TemporaryDirectory("acme")
        let live = dir.path + "/live/lan.example"
        let made = try ProvidedCertificates.installSelfSigned(
            domains: ["lan.example", "www.lan.example"], liveDirectory: live)
        let leaf = try Certificate(pemEncoded: try String(contentsOfFile: live + "/cert.pem", encoding: .utf8))
        #expect(CertificateTools.dnsNames(of: leaf) == ["lan.example", "www.lan.example"])
        #expect(leaf.notValidAfter == made.notAfter)
        let key = try Certificate.PrivateKey(
            pemEncoded: try String(contentsOfFile: live + "/privkey.pem", encoding: .utf8))
        #expect(CertificateTools.matches(key, leaf))
        #expect(FileIO.mode(of: live + "/privkey.pem") == 0o600)
        #expect(try String(contentsOfFile: live + "/fullchain.pem", encoding: .utf8) == made.certificatePEM)

        // files mode: the matching pair is copied; a foreign key is refused by name.
        let target = dir.path + "/live/files"
        let copied = try ProvidedCertificates.installFiles(
            certificatePath: live + "/fullchain.pem", keyPath: live + "/privkey.pem", liveDirectory: target,
            domains: ["www.lan.example"])
        #expect(copied.names == ["lan.example", "www.lan.example"])
        #expect(FileIO.mode(of: target + "/privkey.pem") == 0o600)
        #expect(try String(contentsOfFile: target + "/cert.pem", encoding: .utf8) == made.certificatePEM)

        try P256.Signing.PrivateKey().pemRepresentation.write(
            toFile: dir.path + "/other.key", atomically: true, encoding: .utf8)
        let mismatch = #expect(throws: ACMEError.self) {
            try ProvidedCertificates.installFiles(
                certificatePath: live + "/fullchain.pem", keyPath: dir.path + "/other.key",
                liveDirectory: dir.path + "/live/bad")
        }
        #expect(mismatch?.message.contains("does not belong to the certificate") == true)
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/live/bad/privkey.pem"))
        let wrongName = #expect(throws: ACMEError.self) {
            try ProvidedCertificates.installFiles(
                certificatePath: live + "/fullchain.pem", keyPath: live + "/privkey.pem",
                liveDirectory: dir.path + "/live/x",
                domains: ["shop.example.com"])
        }
        #expect(wrongName?.message.contains("does not cover shop.example.com") == true)
    }

    @Test func domainNormalization() throws {
        #expect(
            try CertificateIssuer.normalize(["Shop.Example.com.", "shop.example.com", "www.shop.example.com"])
                == ["shop.example.com", "www.shop.example.com"])
        #expect(throws: ACMEError.self) { try CertificateIssuer.normalize(["https://shop.example.com"]) }
        #expect(throws: ACMEError.self) { try CertificateIssuer.normalize(["*.example.com"]) }
        #expect(throws: ACMEError.self) { try CertificateIssuer.normalize([]) }
    }
}

@Suite("Renewal policy")
struct RenewalPolicyTests {
    let issued = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func lifetimeRuleRenewsWithAThirdLeft() {
        let notAfter = issued.addingTimeInterval(90 * 86400)
        let early = RenewalPolicy.lifetime(
            notBefore: issued, notAfter: notAfter, now: issued.addingTimeInterval(59 * 86400))
        #expect(!early.due)
        #expect(early.renewAt == issued.addingTimeInterval(60 * 86400))
        let late = RenewalPolicy.lifetime(
            notBefore: issued, notAfter: notAfter, now: issued.addingTimeInterval(61 * 86400))
        #expect(late.due)
        #expect(late.source == .lifetime)
    }

    @Test func ariPicksATimeInTheWindow() throws {
        let info = RenewalInfo(
            suggestedWindow: .init(start: "2025-01-02T00:00:00Z", end: "2025-01-03T00:00:00Z"), explanationURL: nil)
        let start = try #require(RFC3339.parse("2025-01-02T00:00:00Z"))
        let before = try #require(
            RenewalPolicy.ari(info, certID: "a.b", now: start.addingTimeInterval(-1), fraction: 0))
        #expect(!before.due)
        let middle = try #require(
            RenewalPolicy.ari(info, certID: "a.b", now: start.addingTimeInterval(43_000), fraction: 0.5))
        #expect(!middle.due, "the chosen time (noon) has not come")
        let after = try #require(
            RenewalPolicy.ari(info, certID: "a.b", now: start.addingTimeInterval(43_201), fraction: 0.5))
        #expect(after.due)
        #expect(after.certID == "a.b")
        #expect(after.renewAt == start.addingTimeInterval(43_200))
        let inverted = RenewalInfo(suggestedWindow: .init(start: "2025-01-03T00:00:00Z", end: "2025-01-02T00:00:00Z"))
        #expect(RenewalPolicy.ari(inverted, certID: "a.b", now: start) == nil)
    }
}
