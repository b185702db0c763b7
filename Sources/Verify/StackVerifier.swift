import FoundationEssentials

/// Runs every check of `sbs verify` against this server and returns the report: first over HTTP and TLS, then
/// through Docker. A check that cannot be made (nothing listens, Docker does not answer) is a failure with the
/// error as its detail; a check that does not apply to this install (no Ollama, no monitoring, no HSTS in
/// development) is a skip that says why.
public struct StackVerifier: Sendable {
    public var target: VerifyTarget
    public var transports: SiteTransports
    public var probe: any StackProbe
    /// Days left are counted from here.
    public var now: @Sendable () -> Date

    public init(
        target: VerifyTarget, transports: SiteTransports, probe: any StackProbe,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.target = target
        self.transports = transports
        self.probe = probe
        self.now = now
    }

    /// Every check's id, in report order.
    public static let checkIDs = [
        "http-redirect", "web-app", "api-health", "auth-health",
        "header-hsts", "header-x-frame-options", "header-x-content-type-options", "tls-certificate",
        "tls-protocol", "database", "containers", "models", "grafana", "monitoring-targets", "alerting",
        "published-ports", "privileges", "backup",
    ]

    /// - Throws: only `CancellationError` (Ctrl-C); every other problem is a failed check.
    public func run() async throws -> VerifyReport {
        let site = try await SiteChecks(target: target, transports: transports, now: now()).run()
        try Task.checkCancellation()
        let stack = await StackChecks(target: target, probe: probe).run()
        try Task.checkCancellation()
        return VerifyReport(checks: site + stack + [BackupCheck.check(target.backup, now: now())])
    }
}
