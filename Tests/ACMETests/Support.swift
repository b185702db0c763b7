@testable import ACME
import Foundation
import HTTPClient
import Synchronization
import Testing

/// A clock that never sleeps: it records each requested wait and moves `now` forward by it.
final class TestClock: ACMEClock {
    private let state: Mutex<(now: Date, sleeps: [Duration])>

    init(now: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        state = Mutex((now, []))
    }

    var now: Date { state.withLock { $0.now } }
    var sleeps: [Duration] { state.withLock { $0.sleeps } }

    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock {
            $0.sleeps.append(duration)
            $0.now = $0.now.addingTimeInterval(duration.secondsValue)
        }
    }
}

/// The real clock shifted by `offset` (to see a certificate from a later day) that really sleeps.
struct OffsetClock: ACMEClock {
    var offset: TimeInterval
    var now: Date { Date().addingTimeInterval(offset) }
    func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}

extension Duration {
    var secondsValue: Double {
        let (whole, atto) = components
        return Double(whole) + Double(atto) / 1e18
    }
}

/// A transport that plays a fixed script of exchanges. It fails closed: a request that does not match the
/// next step (method and URL), or any request after the script ended, records a test failure and throws.
final class ScriptedTransport: HTTPTransport {
    struct Step {
        var method: HTTPRequest.Method
        var url: String
        var response: HTTPResponse
    }

    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>

    init(_ steps: [Step]) { state = Mutex((steps, [])) }

    var sent: [HTTPRequest] { state.withLock { $0.sent } }
    var remaining: Int { state.withLock { $0.steps.count } }

    func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step: Step? = state.withLock { state in
            state.sent.append(request)
            return state.steps.isEmpty ? nil : state.steps.removeFirst()
        }
        guard let step, step.method == request.method, step.url == request.url else {
            Issue.record("unexpected request \(request.method.rawValue) \(request.url); script expected \(String(describing: step.map { "\($0.method.rawValue) \($0.url)" }))")
            throw HTTPTransportError(kind: .other, url: request.url, detail: "unexpected request in test")
        }
        return step.response
    }

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

    static func json(_ status: Int, _ body: String, nonce: String?, headers: [(name: String, value: String)] = []) -> HTTPResponse {
        var all = headers
        all.append((name: "Content-Type", value: status >= 400 ? "application/problem+json" : "application/json"))
        if let nonce { all.append((name: "Replay-Nonce", value: nonce)) }
        return HTTPResponse(status: status, headers: all, body: Array(body.utf8))
    }

    static func problem(_ type: String, _ detail: String, status: Int = 400, nonce: String?) -> HTTPResponse {
        json(status, #"{"type":"urn:ietf:params:acme:error:\#(type)","detail":"\#(detail)","status":\#(status)}"#, nonce: nonce)
    }

    static var directory: ScriptedTransport.Step {
        .init(method: .get, url: "\(base)/directory", response: json(200, directoryJSON, nonce: nil))
    }
    static func nonce(_ value: String) -> ScriptedTransport.Step {
        .init(method: .head, url: "\(base)/nonce", response: HTTPResponse(status: 200, headers: [(name: "Replay-Nonce", value: value)]))
    }
}
