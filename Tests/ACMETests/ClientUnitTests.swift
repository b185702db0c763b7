import Crypto
import Foundation
import SBSCore
import TestSupport
import Testing

@testable import ACME

@Suite("Problem documents")
struct ProblemMappingTests {
    @Test func rateLimitedCarriesTheRetryTime() throws {
        let problem = try JSONDecoder().decode(
            ProblemDocument.self,
            from: Data(
                #"{"type":"urn:ietf:params:acme:error:rateLimited","detail":"too many certificates (5) already issued for this exact set of identifiers","status":429}"#
                    .utf8))
        let when = Date(timeIntervalSince1970: 1_750_003_600)
        let error = ACMEError.from(problem: problem, while: "creating the order", retryAfter: when)
        #expect(error.kind == .rateLimited)
        #expect(error.retryAfter == when)
        #expect(error.message.contains("too many certificates"))
        #expect(error.remedy.contains("2025-06-15T16:06:40Z"))
    }

    @Test func validationProblemsNameTheURL() throws {
        let url = "http://shop.example.com/.well-known/acme-challenge/tok"
        for (type, kind) in [("unauthorized", ACMEError.Kind.unauthorized), ("connection", .connection), ("dns", .dns)]
        {
            let error = ACMEError.from(
                problem: ProblemDocument(type: "urn:ietf:params:acme:error:\(type)", detail: "got 404"),
                while: "validating shop.example.com", url: url)
            #expect(error.kind == kind)
            #expect(error.message.contains(url), "\(type): \(error.message)")
            #expect(error.message.contains("got 404"))
            #expect(!error.remedy.isEmpty)
            #expect(error.description == error.message + "\n  → " + error.remedy)
        }
    }

    @Test func subproblemsAreListed() throws {
        let json = #"""
            {"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"Some of the identifiers are rejected","status":400,
             "subproblems":[{"type":"urn:ietf:params:acme:error:rejectedIdentifier","detail":"example.net is a forbidden domain","identifier":{"type":"dns","value":"example.net"}},
                            {"type":"urn:ietf:params:acme:error:caa","detail":"CAA forbids issuance","identifier":{"type":"dns","value":"b.example.org"}}]}
            """#
        let problem = try JSONDecoder().decode(ProblemDocument.self, from: Data(json.utf8))
        let error = ACMEError.from(problem: problem, while: "creating the order")
        #expect(error.kind == .rejectedIdentifier)
        #expect(error.message.contains("- example.net: example.net is a forbidden domain (rejectedIdentifier)"))
        #expect(error.message.contains("- b.example.org: CAA forbids issuance (caa)"))
    }

    @Test func otherTypes() {
        #expect(
            ACMEError.from(problem: .init(type: "urn:ietf:params:acme:error:accountDoesNotExist"), while: "x").kind
                == .accountDoesNotExist)
        #expect(
            ACMEError.from(problem: .init(type: "urn:ietf:params:acme:error:externalAccountRequired"), while: "x").kind
                == .accountSetup)
        let unknown = ACMEError.from(problem: .init(type: "about:blank", detail: "teapot"), while: "brewing")
        #expect(unknown.kind == .server)
        #expect(unknown.message.contains("teapot"))
    }
}

@Suite("Client protocol behaviour (scripted CA)")
struct ClientBehaviourTests {
    typealias Step = ScriptedTransport.Step
    let base = Fixture.base

    func client(_ transport: ScriptedTransport, clock: TestClock, accountURL: String? = "\(Fixture.base)/acct/1")
        -> ACMEClient
    {
        ACMEClient(
            directoryURL: "\(base)/directory", accountKey: P256.Signing.PrivateKey(), accountURL: accountURL,
            registration: AccountRegistration(email: "ops@example.org"), transport: transport, clock: clock)
    }

    @Test func badNonceIsRetriedWithTheNonceFromTheErrorResponse() async throws {
        let transport = ScriptedTransport([
            Fixture.directory,
            Fixture.nonce("n1"),
            Step(method: .post, url: "\(base)/order/1", response: Fixture.problem("badNonce", "stale", nonce: "n2")),
            Step(
                method: .post, url: "\(base)/order/1",
                response: Fixture.json(
                    200, #"{"status":"valid","identifiers":[],"authorizations":[],"finalize":"f"}"#, nonce: "n3")),
            // The next request uses n3 from the success without another HEAD.
            Step(
                method: .post, url: "\(base)/order/1",
                response: Fixture.json(
                    200, #"{"status":"valid","identifiers":[],"authorizations":[],"finalize":"f"}"#, nonce: "n4")),
        ])
        let clock = TestClock()
        let acme = client(transport, clock: clock)
        _ = try await acme.fetchOrder("\(base)/order/1")
        _ = try await acme.fetchOrder("\(base)/order/1")
        #expect(transport.remaining == 0)
        #expect(try transport.protectedHeader(of: 2)["nonce"] == .string("n1"))
        #expect(try transport.protectedHeader(of: 3)["nonce"] == .string("n2"))
        #expect(try transport.protectedHeader(of: 4)["nonce"] == .string("n3"))
        #expect(try transport.protectedHeader(of: 4)["kid"] == .string("\(base)/acct/1"))
        #expect(try transport.payload(of: 4) == "", "POST-as-GET has an empty payload")
        #expect(clock.sleeps.count == 1, "one short backoff before the retry")
        #expect(await acme.badNonceRetries == 1)
        #expect(await acme.nonces.count == 1, "n4 is kept for the next request")
    }

    @Test func badNonceRetriesAreBoundedAndBackOff() async throws {
        var steps = [Fixture.directory, Fixture.nonce("n0")]
        for index in 0...10 {
            steps.append(
                Step(
                    method: .post, url: "\(base)/order/1",
                    response: Fixture.problem("badNonce", "no", nonce: "n\(index + 1)")))
        }
        let transport = ScriptedTransport(steps)
        let clock = TestClock()
        let acme = client(transport, clock: clock)
        let error = await #expect(throws: ACMEError.self) { try await acme.fetchOrder("\(base)/order/1") }
        #expect(error?.problem?.acmeType == "badNonce")
        #expect(transport.remaining == 0, "1 try + 10 retries, then it gives up")
        #expect(clock.sleeps.count == 10)
        #expect(clock.sleeps == clock.sleeps.sorted(), "the pauses grow")
        let first = try #require(clock.sleeps.first)
        let last = try #require(clock.sleeps.last)
        #expect(last > first)
    }

    @Test func errorResponsesFeedTheNoncePool() async throws {
        let transport = ScriptedTransport([
            Fixture.directory,
            Fixture.nonce("n1"),
            Step(
                method: .post, url: "\(base)/authz/1",
                response: Fixture.problem("malformed", "no such authorization", status: 404, nonce: "from-error")),
            Step(
                method: .post, url: "\(base)/authz/1",
                response: Fixture.problem("malformed", "still no", status: 404, nonce: nil)),
        ])
        let acme = client(transport, clock: TestClock())
        await #expect(throws: ACMEError.self) { try await acme.fetchAuthorization("\(base)/authz/1") }
        let error = await #expect(throws: ACMEError.self) { try await acme.fetchAuthorization("\(base)/authz/1") }
        #expect(error?.message.contains("still no") == true)
        #expect(try transport.protectedHeader(of: 3)["nonce"] == .string("from-error"), "no HEAD newNonce in between")
    }

    @Test func forgottenAccountIsRegisteredAgainAndTheRequestRepeated() async throws {
        let order =
            #"{"status":"pending","identifiers":[{"type":"dns","value":"a.example"}],"authorizations":[],"finalize":"f"}"#
        let transport = ScriptedTransport([
            Fixture.directory,
            Fixture.nonce("n1"),
            Step(
                method: .post, url: "\(base)/order",
                response: Fixture.problem("accountDoesNotExist", "unknown account", status: 400, nonce: "n2")),
            Step(
                method: .post, url: "\(base)/account",
                response: Fixture.json(
                    201, #"{"status":"valid"}"#, nonce: "n3", headers: [(name: "Location", value: "\(base)/acct/2")])),
            Step(
                method: .post, url: "\(base)/order",
                response: Fixture.json(201, order, nonce: "n4", headers: [(name: "Location", value: "\(base)/order/9")])
            ),
        ])
        let acme = client(transport, clock: TestClock())
        let created = try await acme.newOrder(identifiers: ["a.example"], replaces: "aki.serial", profile: "classic")
        #expect(created.url == "\(base)/order/9")
        #expect(await acme.accountURL == "\(base)/acct/2")
        let registration = try transport.protectedHeader(of: 3)
        #expect(registration["jwk"] != nil && registration["kid"] == nil, "newAccount is signed with jwk")
        #expect(try transport.payload(of: 3) == #"{"contact":["mailto:ops@example.org"],"termsOfServiceAgreed":true}"#)
        #expect(try transport.protectedHeader(of: 4)["kid"] == .string("\(base)/acct/2"))
        #expect(
            try transport.payload(of: 4)
                == #"{"identifiers":[{"type":"dns","value":"a.example"}],"profile":"classic","replaces":"aki.serial"}"#)
    }

    @Test func profileIsCheckedAgainstTheDirectory() async throws {
        let transport = ScriptedTransport([Fixture.directory])
        let acme = client(transport, clock: TestClock())
        let error = await #expect(throws: ACMEError.self) {
            try await acme.newOrder(identifiers: ["a.example"], profile: "tlsserver")
        }
        #expect(error?.kind == .local)
        #expect(error?.message.contains("classic, shortlived") == true)
        #expect(transport.sent.count == 1, "nothing is sent to the CA for an unknown profile")
    }

    @Test func pollingHonoursRetryAfterInBothForms() async throws {
        let clock = TestClock()
        let processing = #"{"status":"processing","identifiers":[],"authorizations":[],"finalize":"f"}"#
        let valid = #"{"status":"valid","identifiers":[],"authorizations":[],"finalize":"f","certificate":"c"}"#
        let inTwelveSeconds = HTTPDate.format(clock.now.addingTimeInterval(12))
        let transport = ScriptedTransport([
            Fixture.directory,
            Fixture.nonce("n1"),
            Step(
                method: .post, url: "\(base)/order/1",
                response: Fixture.json(200, processing, nonce: "n2", headers: [(name: "Retry-After", value: "3")])),
            Step(
                method: .post, url: "\(base)/order/1",
                response: Fixture.json(
                    200, processing, nonce: "n3", headers: [(name: "Retry-After", value: inTwelveSeconds)])),
            Step(method: .post, url: "\(base)/order/1", response: Fixture.json(200, processing, nonce: "n4")),
            Step(method: .post, url: "\(base)/order/1", response: Fixture.json(200, valid, nonce: "n5")),
        ])
        let acme = client(transport, clock: clock)
        let order: ACMEOrder = try await acme.poll("\(base)/order/1", what: "issuance") { (order: ACMEOrder) in
            order.status == .valid
        }
        #expect(order.certificate == "c")
        // 3 s, then 12 s measured from the clock's now after the first wait (so 9 s), then the default backoff.
        #expect(clock.sleeps == [.seconds(3), .seconds(9), .milliseconds(200)])
    }

    @Test func aRetryAfterBeyondTheLimitEndsWithAResumableError() async throws {
        let clock = TestClock()
        let processing = #"{"status":"processing","identifiers":[],"authorizations":[],"finalize":"f"}"#
        let transport = ScriptedTransport([
            Fixture.directory,
            Fixture.nonce("n1"),
            Step(
                method: .post, url: "\(base)/order/1",
                response: Fixture.json(200, processing, nonce: "n2", headers: [(name: "Retry-After", value: "3600")])),
        ])
        let acme = client(transport, clock: clock)
        let error = await #expect(throws: ACMEError.self) {
            let _: ACMEOrder = try await acme.poll("\(base)/order/1", what: "issuance") { (order: ACMEOrder) in
                order.status == .valid
            }
        }
        #expect(error?.kind == .orderFailed)
        #expect(error?.retryAfter == clock.now.addingTimeInterval(3600))
        #expect(clock.sleeps.isEmpty)
    }

    @Test func aKnownRateLimitIsHonouredWithoutAskingTheCA() async throws {
        let dir = try TemporaryDirectory("acme")
        let clock = TestClock()
        let store = AccountStore(accountDirectory: dir.path + "/acme", directoryURL: "\(base)/directory")
        var state = OrderState(identifiers: ["a.example"])
        state.notBefore = clock.now.addingTimeInterval(3600)
        state.lastError = "too many certificates"
        try store.saveOrder(state)
        let transport = ScriptedTransport([])  // any request fails the test
        let issuer = CertificateIssuer(transport: { _ in transport }, clock: clock)
        let error = await issueExpectingError(issuer, in: dir)
        #expect(error?.kind == .rateLimited)
        #expect(error?.retryAfter == state.notBefore)
        #expect(error?.remedy.contains("too many certificates") == true)
        #expect(transport.sent.isEmpty)
    }

    @Test func aRateLimitFromTheCAIsPersisted() async throws {
        let dir = try TemporaryDirectory("acme")
        let clock = TestClock()
        let transport = ScriptedTransport([
            Fixture.directory,
            Fixture.nonce("n1"),
            Step(
                method: .post, url: "\(base)/account",
                response: Fixture.json(
                    201, #"{"status":"valid"}"#, nonce: "n2", headers: [(name: "Location", value: "\(base)/acct/1")])),
            Step(
                method: .post, url: "\(base)/order",
                response: {
                    var response = Fixture.problem("rateLimited", "too many new orders", status: 429, nonce: "n3")
                    response.headers.append((name: "retry-after", value: "7200"))
                    return response
                }()),
        ])
        let issuer = CertificateIssuer(transport: { _ in transport }, clock: clock)
        let error = await issueExpectingError(issuer, in: dir)
        #expect(error?.kind == .rateLimited)
        let store = AccountStore(accountDirectory: dir.path + "/acme", directoryURL: "\(base)/directory")
        let saved = try #require(try store.loadOrder(for: ["a.example"]))
        #expect(saved.notBefore == clock.now.addingTimeInterval(7200))
        #expect(FileIO.mode(of: store.keyPath) == 0o600)
        #expect(try store.loadAccount()?.url == "\(base)/acct/1")
    }
}

/// Issues for `a.example` with every folder under `dir` and returns the ACME error it must end with.
private func issueExpectingError(_ issuer: CertificateIssuer, in dir: TemporaryDirectory) async -> ACMEError? {
    try? FileManager.default.createDirectory(atPath: dir.path + "/www", withIntermediateDirectories: true)
    return await #expect(throws: ACMEError.self) {
        try await issuer.issue(
            domains: ["a.example"], email: nil, webroot: dir.path + "/www",
            directory: try ACMEServer("\(Fixture.base)/directory"),
            accountDirectory: dir.path + "/acme", liveDirectory: dir.path + "/live")
    }
}
