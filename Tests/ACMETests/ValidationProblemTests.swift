import Crypto
import Foundation
import TestSupport
import Testing

@testable import ACME

/// How a CA that keeps a failed authorization pending (step-ca) and a CA that sends no Retry-After are reported.
@Suite("Validation problems and whose delay it is")
struct ValidationProblemTests {
    typealias Step = ScriptedTransport.Step
    let base = Fixture.base

    func client(_ transport: ScriptedTransport, clock: TestClock) -> ACMEClient {
        ACMEClient(
            directoryURL: "\(base)/directory", accountKey: P256.Signing.PrivateKey(), accountURL: "\(base)/acct/1",
            registration: AccountRegistration(email: "ops@example.org"), transport: transport, clock: clock)
    }

    /// An authorization as step-ca answers after a failed validation: still pending, the challenge's error set.
    static let pendingWithError = #"""
        {"identifier":{"type":"dns","value":"shop.example.com"},"status":"pending","challenges":[{"type":"http-01",
         "url":"https://ca.test/chall/1","status":"pending","token":"tok","error":{"type":"urn:ietf:params:acme:error:connection",
         "detail":"error doing http GET for url http://shop.example.com/.well-known/acme-challenge/tok: connection refused","status":400}}]}
        """#

    @Test func aChallengeErrorOnAPendingAuthorizationIsReportedAtOnceAndEndsTheAttempt() async throws {
        let clock = TestClock()
        var steps = [Fixture.directory, Fixture.nonce("n0")]
        for index in 1...12 {
            steps.append(
                Step(
                    method: .post, url: "\(base)/authz/1",
                    response: Fixture.json(200, Self.pendingWithError, nonce: "n\(index)")))
        }
        let transport = ScriptedTransport(steps)
        let acme = client(transport, clock: clock)
        var problemSince: Date?
        var reports: [String] = []
        let start = clock.now
        let authorization: ACMEAuthorization = try await acme.poll(
            "\(base)/authz/1", what: "validation of shop.example.com"
        ) {
            (authorization: ACMEAuthorization) in
            CertificateIssuer.validationSettled(
                authorization, problemSince: &problemSince, now: clock.now, grace: .seconds(5)
            ) {
                reports.append($0)
            }
        }
        // Reported once, at the first poll, with the CA's own words; polling ended once the grace was over.
        #expect(
            reports == [
                "error doing http GET for url http://shop.example.com/.well-known/acme-challenge/tok: connection refused"
            ])
        #expect(problemSince == start)
        #expect(clock.now.timeIntervalSince(start) >= 5 && clock.now.timeIntervalSince(start) < 10)
        #expect(transport.remaining > 0, "it stopped long before sbs's polling limit")
        let error = CertificateIssuer.authorizationFailed(authorization, url: "\(base)/authz/1")
        #expect(error.kind == .connection)
        #expect(error.message.contains("connection refused"))
        #expect(error.message.contains("http://shop.example.com/.well-known/acme-challenge/tok"))
    }

    @Test func aPendingAuthorizationWithoutAnErrorIsPolledOn() throws {
        let json =
            #"{"identifier":{"type":"dns","value":"a.example.com"},"status":"pending","challenges":[{"type":"http-01","url":"u","status":"processing","token":"t"}]}"#
        let pending = try JSONDecoder().decode(ACMEAuthorization.self, from: Data(json.utf8))
        var since: Date?
        #expect(
            !CertificateIssuer.validationSettled(pending, problemSince: &since, now: Date(), grace: .seconds(5)) { _ in
            })
        #expect(since == nil)
    }

    // sbs's own backoff is not the CA's Retry-After: "it asks to wait 2.0s" was printed when the CA sent none.
    @Test func withoutRetryAfterTheLimitIsSaidToBeSbss() async throws {
        let clock = TestClock()
        let processing = #"{"status":"processing","identifiers":[],"authorizations":[],"finalize":"f"}"#
        var steps = [Fixture.directory, Fixture.nonce("n0")]
        for index in 1...40 {
            steps.append(
                Step(method: .post, url: "\(base)/order/1", response: Fixture.json(200, processing, nonce: "n\(index)"))
            )
        }
        let acme = client(ScriptedTransport(steps), clock: clock)
        await acme.setPolling(maxDelay: .seconds(60), timeout: .seconds(10))
        let error = await #expect(throws: ACMEError.self) {
            let _: ACMEOrder = try await acme.poll("\(base)/order/1", what: "issuance") { (order: ACMEOrder) in
                order.status == .valid
            }
        }
        #expect(
            error?.message.contains("sbs's polling limit; the CA sent no Retry-After") == true,
            "\(String(describing: error?.message))")
        #expect(error?.message.contains("asks to wait") == false)
    }

    @Test func aRetryAfterTooLongIsSaidToBeTheCAs() async throws {
        let clock = TestClock()
        let processing = #"{"status":"processing","identifiers":[],"authorizations":[],"finalize":"f"}"#
        let acme = client(
            ScriptedTransport([
                Fixture.directory, Fixture.nonce("n0"),
                Step(
                    method: .post, url: "\(base)/order/1",
                    response: Fixture.json(
                        200, processing, nonce: "n1", headers: [(name: "Retry-After", value: "3600")])),
            ]), clock: clock)
        let error = await #expect(throws: ACMEError.self) {
            let _: ACMEOrder = try await acme.poll("\(base)/order/1", what: "issuance") { (order: ACMEOrder) in
                order.status == .valid
            }
        }
        #expect(
            error?.message.contains("its Retry-After asks to wait 3600.0s") == true,
            "\(String(describing: error?.message))")
    }
}
