import HTTPClient
import Processes
import SBSCore
import Testing
import Wizard

@testable import Installer

@Suite struct OutboundProxyChoice {
    func answers(_ url: String?, noProxy: [String] = []) throws -> Answers {
        var answers = Answers()
        answers.proxy = try url.map { try ProxyURL($0) }
        answers.noProxy = try noProxy.map { try NoProxyEntry($0) }
        return answers
    }

    /// The answers' proxy wins over the environment's; loopback and the stack's service names are always direct,
    /// after what the answers or the environment list, each once.
    @Test func theAnswersWinAndLoopbackAndTheStackAreAlwaysDirect() throws {
        let environment = ["https_proxy": "http://env-proxy:8080", "no_proxy": "env.lan"]
        let given = try #require(
            OutboundProxy.settings(
                try answers("http://proxy.office.lan:3128", noProxy: ["intranet.lan", "localhost"]),
                environment: environment))
        #expect(given.https == "http://proxy.office.lan:3128" && given.http == "http://proxy.office.lan:3128")
        #expect(given.noProxy.prefix(2) == ["intranet.lan", "localhost"])
        #expect(given.noProxy.filter { $0 == "localhost" }.count == 1)
        for name in ["127.0.0.1", "::1", "app-kong", "ollama", "app-db"] { #expect(given.noProxy.contains(name)) }

        let fromEnvironment = try #require(OutboundProxy.settings(try answers(nil), environment: environment))
        #expect(fromEnvironment.https == "http://env-proxy:8080" && fromEnvironment.http == nil)
        #expect(fromEnvironment.noProxy.first == "env.lan" && fromEnvironment.noProxy.contains("ollama"))
        #expect(OutboundProxy.settings(try answers(nil), environment: ["PATH": "/bin"]) == nil)
        #expect(OutboundProxy.route(nil) == .direct)
    }

    /// curl's reading of the environment: lower case first, HTTPS_PROXY in upper case too, but never an upper-case
    /// HTTP_PROXY (a CGI program's client can set that one); blanks around entries dropped.
    @Test func theEnvironmentIsReadAsCurlReadsIt() throws {
        let upper = try #require(ProxySettings.environment(["HTTPS_PROXY": "http://p:1", "NO_PROXY": " a.lan , ,b "]))
        #expect(upper.https == "http://p:1" && upper.noProxy.prefix(2) == ["a.lan", "b"])
        let both = try #require(
            ProxySettings.environment(["https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:1"]))
        #expect(both.https == "http://lower:1")
        #expect(ProxySettings.environment(["HTTP_PROXY": "http://cgi:1"]) == nil)
        #expect(ProxySettings.environment(["https_proxy": "  "]) == nil)
    }

    /// An environment's proxy may carry a user and password: what sbs shows of it never does.
    @Test func aProxyIsShownWithoutItsCredentials() {
        #expect(ProxySettings.shown("http://user:s3cret@proxy.lan:3128") == "http://…@proxy.lan:3128")
        #expect(ProxySettings.shown("http://a@b:c@proxy.lan:3128/") == "http://…@proxy.lan:3128/")
        #expect(ProxySettings.shown("http://proxy.lan:3128") == "http://proxy.lan:3128")
    }

    /// Children (apt-get, restic) get the proxy in both cases of each name, and nothing when there is none.
    @Test func childrenGetTheProxyVariables() throws {
        let settings = OutboundProxy.settings(try answers("http://proxy.office.lan:3128"), environment: [:])
        let runner = try #require(OutboundProxy.runner(SystemCommandRunner(), settings) as? SystemCommandRunner)
        let child = runner.childEnvironment
        for name in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"] {
            #expect(child[name] == "http://proxy.office.lan:3128", "\(name)")
        }
        #expect(child["no_proxy"]?.split(separator: ",").contains("app-db") == true)
        #expect(child["NO_PROXY"] == child["no_proxy"])
        let none = try #require(OutboundProxy.runner(SystemCommandRunner(), nil) as? SystemCommandRunner)
        #expect(none.environment.isEmpty)
    }
}
