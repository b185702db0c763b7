import FoundationEssentials
import HTTPClient
import Host
import Processes
import SBSCore
import Wizard

/// The office's proxy to the internet, as sbs uses it: the answers' `proxy:` when given, else the one sbs's own
/// environment names (`https_proxy` …). The CA, apt and restic go through it; this server (loopback) and the
/// stack's services (by their names on the stack's networks) never do, whatever `no_proxy` says; what `verify`
/// and the Ollama API reach is always direct (`ProxyRoute.direct`).
public enum OutboundProxy {
    /// Reached directly by every program sbs configures: this server and the stack's services by name.
    public static let alwaysDirect = ProxySettings.loopback + StackService.allCases.map(\.rawValue)

    /// What the answers' proxy never carries: their `proxy.no_proxy`, then `alwaysDirect` (one list for sbs,
    /// dockerd and the containers).
    public static func direct(_ answers: Answers) -> [String] {
        ProxySettings.merged(answers.noProxy.map(\.value), alwaysDirect)
    }

    /// The settings for `answers` in a process with `environment`; nil when neither names a proxy.
    public static func settings(_ answers: Answers, environment: [String: String]) -> ProxySettings? {
        if let url = answers.proxy {
            return ProxySettings(http: url.value, https: url.value, noProxy: direct(answers))
        }
        guard var settings = ProxySettings.environment(environment) else { return nil }
        settings.noProxy = ProxySettings.merged(settings.noProxy, alwaysDirect)
        return settings
    }

    /// The route of requests to the internet (the CA).
    public static func route(_ settings: ProxySettings?) -> ProxyRoute {
        settings.map(ProxyRoute.through) ?? .direct
    }

    /// The variables a child program reads its proxy from, in both cases (curl and apt read the lower-case ones,
    /// Go programs such as restic and dockerd either); none without a proxy.
    public static func variables(_ settings: ProxySettings?) -> [String: String] {
        guard let settings else { return [:] }
        var variables: [String: String] = [:]
        for (name, value) in [("http_proxy", settings.http), ("https_proxy", settings.https)] {
            guard let value else { continue }
            variables[name] = value
            variables[name.uppercased()] = value
        }
        variables["no_proxy"] = settings.noProxyValue
        variables["NO_PROXY"] = settings.noProxyValue
        return variables
    }

    /// `runner` with the proxy's variables in its children's environment, when it is the system's runner (a test's
    /// scripted runner runs no program).
    public static func runner(_ runner: any CommandRunner, _ settings: ProxySettings?) -> any CommandRunner {
        guard let system = runner as? SystemCommandRunner, settings != nil else { return runner }
        return with(system, settings)
    }

    /// `runner` with the proxy's variables in its children's environment.
    public static func with(_ runner: SystemCommandRunner, _ settings: ProxySettings?) -> SystemCommandRunner {
        var runner = runner
        for (name, value) in variables(settings) { runner.environment[name] = value }
        return runner
    }
}
