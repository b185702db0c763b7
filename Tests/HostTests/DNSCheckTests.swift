import Foundation
import SBSCore
import Synchronization
import TestSupport
import Testing

@testable import Host

func ips(_ texts: String...) throws -> [IPAddress] { try texts.map { try IPAddress($0) } }

@Suite("DNS check")
struct DNSCheckTests {
    let domain = try! DomainName("shop.example.com")
    let www = try! DomainName("www.shop.example.com")
    let host = FixedAddresses(addresses: ["127.0.0.1", "::1", "203.0.113.7", "2001:db8::7", "fe80::1"])

    @Test func pointsHere() async throws {
        let resolver = TableResolver([
            "shop.example.com": DNSAnswer(a: try ips("203.0.113.7"), aaaa: try ips("2001:db8::7")),
            "www.shop.example.com": DNSAnswer(a: try ips("203.0.113.7")),
        ])
        let report = await DNSCheck(resolver: resolver, localAddresses: host).check(
            names: [domain, www], policy: .strict)
        #expect(report.result.status == .pass)
        #expect(report.names.allSatisfy { $0.problems.isEmpty })
    }

    @Test func aRecordElsewhereFailsWhenStrictAndWarnsOtherwise() async throws {
        let resolver = TableResolver(["shop.example.com": DNSAnswer(a: try ips("198.51.100.9"))])
        let strict = await DNSCheck(resolver: resolver, localAddresses: host).check(names: [domain], policy: .strict)
        #expect(strict.result.status == .fail)
        #expect(strict.result.detail.contains("198.51.100.9"))
        #expect(strict.result.detail.contains("203.0.113.7"))
        #expect(strict.result.remedy?.contains("checks.dns: warn") == true)
        let warn = await DNSCheck(resolver: resolver, localAddresses: host).check(names: [domain], policy: .warn)
        #expect(warn.result.status == .warn)
    }

    @Test func skipLooksNothingUp() async throws {
        let resolver = TableResolver([:])
        let report = await DNSCheck(resolver: resolver, localAddresses: host).check(names: [domain], policy: .skip)
        #expect(report.result.status == .skip)
        #expect(resolver.lookups.isEmpty)
    }

    @Test func aaaaElsewhereIsCalledOut() async throws {
        let resolver = TableResolver([
            "shop.example.com": DNSAnswer(a: try ips("203.0.113.7"), aaaa: try ips("2001:db8::99"))
        ])
        let report = await DNSCheck(resolver: resolver, localAddresses: host).check(names: [domain], policy: .strict)
        #expect(report.result.status == .fail)
        #expect(report.names[0].problems.count == 1)
        #expect(report.names[0].problems[0].contains("AAAA"))
        #expect(report.names[0].problems[0].contains("prefers IPv6"))
    }

    @Test func aaaaWithoutIPv6OnThisHost() async throws {
        let v4Only = FixedAddresses(addresses: ["203.0.113.7"])
        let resolver = TableResolver([
            "shop.example.com": DNSAnswer(a: try ips("203.0.113.7"), aaaa: try ips("2001:db8::7"))
        ])
        let report = await DNSCheck(resolver: resolver, localAddresses: v4Only).check(names: [domain], policy: .strict)
        #expect(report.result.status == .fail)
        #expect(report.names[0].problems[0].contains("no public IPv6 address"))
    }

    @Test func behindNATThePublicAddressCounts() async throws {
        let natted = FixedAddresses(addresses: ["10.0.0.5"])
        let resolver = TableResolver(["shop.example.com": DNSAnswer(a: try ips("203.0.113.7"))])
        let without = await DNSCheck(resolver: resolver, localAddresses: natted).check(names: [domain], policy: .strict)
        #expect(without.result.status == .fail)
        #expect(without.result.remedy?.contains("network.public_ip") == true)
        let with = await DNSCheck(resolver: resolver, localAddresses: natted).check(
            names: [domain], publicAddresses: try ips("203.0.113.7"), policy: .strict)
        #expect(with.result.status == .pass)
    }

    @Test func noRecordsLoopbackAndLookupFailures() async throws {
        let resolver = TableResolver(
            ["shop.example.com": DNSAnswer(), "www.shop.example.com": DNSAnswer(a: try ips("127.0.0.1"))],
            failing: ["other.example.com": "no answer for other.example.com from 127.0.0.53: connection timed out"])
        let report = await DNSCheck(resolver: resolver, localAddresses: host).check(
            names: [domain, www, try DomainName("other.example.com")], policy: .strict)
        #expect(report.result.status == .fail)
        #expect(report.names[0].problems[0].contains("no A or AAAA record"))
        #expect(report.names[1].problems[0].contains("loopback"))
        #expect(report.names[2].problems[0].contains("no answer"))
    }

    @Test func ipAddressesAreCanonical() throws {
        #expect(try IPAddress("2001:DB8:0:0::1").description == "2001:db8::1")
        #expect(try IPAddress("2001:db8::1") == IPAddress("2001:0db8:0000::0001"))
        #expect(throws: UserError.self) { try IPAddress("203.0.113.256") }
        #expect(throws: UserError.self) { try IPAddress("shop.example.com") }
        #expect(
            try IPAddress("10.1.2.3").isPrivate && IPAddress("fd00::1").isPrivate && !IPAddress("203.0.113.7").isPrivate
        )
        #expect(
            try IPAddress("::1").isLoopback && IPAddress("127.0.0.2").isLoopback && IPAddress("fe80::1").isLinkLocal)
    }

    @Test func theSystemListsItsLoopbackAddress() throws {
        let addresses = try SystemLocalAddresses().localAddresses()
        #expect(addresses.contains(try IPAddress("127.0.0.1")))
    }

    @Test func theSystemResolverAnswersOrFailsCleanly() async throws {
        // `.invalid` never resolves (RFC 6761): an empty answer, or a lookup error when no resolver is reachable.
        do {
            let answer = try await SystemDomainResolver().resolve(try DomainName("sbs-test.invalid"))
            #expect(answer.a.isEmpty && answer.aaaa.isEmpty)
        } catch {
            #expect(error.message.contains("sbs-test.invalid"))
        }
    }
}
