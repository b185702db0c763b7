import HTTPClient
import Synchronization
import Testing

/// A transport that answers GET requests from a fixed table of URLs. It fails closed: a URL it has no answer for
/// (or another method) records a test failure and throws, so a check that asks for something unexpected is caught.
public final class TableTransport: HTTPTransport {
    public enum Answer: Sendable {
        case response(HTTPResponse)
        case failure(HTTPTransportError.Kind, String)
    }

    private let answers: [String: Answer]
    private let sent = Mutex<[String]>([])
    private let sourceLocation: SourceLocation

    public init(_ answers: [String: Answer], sourceLocation: SourceLocation = #_sourceLocation) {
        self.answers = answers
        self.sourceLocation = sourceLocation
    }

    /// The URLs asked for, in order.
    public var requested: [String] { sent.withLock { $0 } }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        sent.withLock { $0.append(request.url) }
        guard request.method == .get, let answer = answers[request.url] else {
            Issue.record("unexpected request \(request.method.rawValue) \(request.url)", sourceLocation: sourceLocation)
            throw HTTPTransportError(kind: .other, url: request.url, detail: "unexpected request in test")
        }
        switch answer {
        case .response(let response): return response
        case .failure(let kind, let detail): throw HTTPTransportError(kind: kind, url: request.url, detail: detail)
        }
    }
}

/// A transport that plays a fixed script of exchanges in order. It fails closed: a request that does not match the
/// next step (method and URL), or any request after the script ended, records a test failure and throws.
public final class ScriptedTransport: HTTPTransport {
    public struct Step: Sendable {
        public var method: HTTPRequest.Method
        public var url: String
        public var response: HTTPResponse

        public init(method: HTTPRequest.Method, url: String, response: HTTPResponse) {
            self.method = method
            self.url = url
            self.response = response
        }
    }

    private let state: Mutex<(steps: [Step], sent: [HTTPRequest])>
    private let sourceLocation: SourceLocation

    public init(_ steps: [Step], sourceLocation: SourceLocation = #_sourceLocation) {
        state = Mutex((steps, []))
        self.sourceLocation = sourceLocation
    }

    /// Every request received, in order (the unexpected one included).
    public var sent: [HTTPRequest] { state.withLock { $0.sent } }
    /// How many steps of the script were not played.
    public var remaining: Int { state.withLock { $0.steps.count } }

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let step: Step? = state.withLock { state in
            state.sent.append(request)
            return state.steps.isEmpty ? nil : state.steps.removeFirst()
        }
        guard let step, step.method == request.method, step.url == request.url else {
            Issue.record(
                "unexpected request \(request.method.rawValue) \(request.url); script expected \(step.map { "\($0.method.rawValue) \($0.url)" } ?? "nothing")",
                sourceLocation: sourceLocation)
            throw HTTPTransportError(kind: .other, url: request.url, detail: "unexpected request in test")
        }
        return step.response
    }
}
