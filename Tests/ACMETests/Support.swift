import Foundation
import HTTPClient
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import ACME

/// The real clock shifted by `offset` (to see a certificate from a later day) that really sleeps.
struct OffsetClock: ACMEClock {
    var offset: TimeInterval
    var now: Date { Date().addingTimeInterval(offset) }
    func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

/// What ACME sent through a scripted transport, read back.
extension ScriptedTransport {
    /// The protected header of the JWS in the body of request `index`.
    func protectedHeader(of index: Int) throws -> [String: JSONValue] {
        let body = sent[index].body
        let jws = try JSONDecoder().decode(FlattenedJWS.self, from: Data(body))
        return try #require(jws.protectedHeader)
    }

    func payload(of index: Int) throws -> String {
        let jws = try JSONDecoder().decode(FlattenedJWS.self, from: Data(sent[index].body))
        return String(decoding: Base64URL.decode(jws.payload) ?? [], as: UTF8.self)
    }
}

enum Fixture {
    static let base = "https://ca.test"
    static let directoryJSON = """
        {"newNonce":"\(base)/nonce","newAccount":"\(base)/account","newOrder":"\(base)/order","revokeCert":"\(base)/revoke",
         "renewalInfo":"\(base)/ari","meta":{"termsOfService":"\(base)/tos","profiles":{"classic":"90 days","shortlived":"6 days"}}}
        """

    static func json(_ status: Int, _ body: String, nonce: String?, headers: [(name: String, value: String)] = [])
        -> HTTPResponse
    {
        var all = headers
        all.append((name: "Content-Type", value: status >= 400 ? "application/problem+json" : "application/json"))
        if let nonce { all.append((name: "Replay-Nonce", value: nonce)) }
        return HTTPResponse(status: status, headers: all, body: Array(body.utf8))
    }

    static func problem(_ type: String, _ detail: String, status: Int = 400, nonce: String?) -> HTTPResponse {
        json(
            status, #"{"type":"urn:ietf:params:acme:error:\#(type)","detail":"\#(detail)","status":\#(status)}"#,
            nonce: nonce)
    }

    static var directory: ScriptedTransport.Step {
        .init(method: .get, url: "\(base)/directory", response: json(200, directoryJSON, nonce: nil))
    }
    static func nonce(_ value: String) -> ScriptedTransport.Step {
        .init(
            method: .head, url: "\(base)/nonce",
            response: HTTPResponse(status: 200, headers: [(name: "Replay-Nonce", value: value)]))
    }
}
