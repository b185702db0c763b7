import Foundation
import SBSCore
import TestSupport
import Testing
import Yams

@testable import Render

/// The answers' proxy in the environment of the services that reach the internet, read back from the rendered
/// compose file (Yams): exactly those four, both cases of each name, and nothing anywhere without a proxy.
@Suite struct ContainerProxyTests {
    static let outbound: Set<String> = ["app-auth", "app-api", "ollama", "alertmanager"]
    static let names = ["HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"]

    func services(_ input: RenderInput, _ secrets: Secrets) throws -> [String: [String: Any]] {
        let files = try ConfigRenderer.render(input, secrets: secrets, templates: Repository.templates())
        let text = try #require(files.first { $0.relativePath == "docker-compose.yml" }?.text)
        let compose = try #require(try Yams.load(yaml: text) as? [String: Any])
        return try #require(compose["services"] as? [String: [String: Any]])
    }

    @Test(arguments: GoldenCase.allCases)
    func theOutboundServicesAndOnlyThemGetTheProxy(_ golden: GoldenCase) throws {
        var (input, secrets) = try golden.input()
        for (name, service) in try services(input, secrets) {
            let environment = service["environment"] as? [String: Any] ?? [:]
            #expect(Self.names.allSatisfy { environment[$0] == nil }, "\(name) has a proxy without one in the answers")
        }
        input.proxy = ContainerProxy(
            url: try ProxyURL("http://proxy.office.lan:3128"),
            noProxy: try ["intranet.lan", "localhost", "127.0.0.1", "app-db", "app-kong", "ollama"].map {
                try NoProxyEntry($0)
            })
        let rendered = try services(input, secrets)
        for (name, service) in rendered {
            let environment = service["environment"] as? [String: Any] ?? [:]
            if Self.outbound.contains(name) {
                for variable in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
                    #expect(environment[variable] as? String == "http://proxy.office.lan:3128", "\(name) \(variable)")
                }
                for variable in ["NO_PROXY", "no_proxy"] {
                    #expect(
                        (environment[variable] as? String)?.split(separator: ",").map(String.init)
                            == ["intranet.lan", "localhost", "127.0.0.1", "app-db", "app-kong", "ollama"],
                        "\(name) \(variable)")
                }
            } else {
                #expect(Self.names.allSatisfy { environment[$0] == nil }, "\(name) got the proxy")
            }
        }
        // The golden cases differ in which services run; those that do run got it.
        #expect(rendered["app-api"] != nil && rendered["app-auth"] != nil)
    }
}
