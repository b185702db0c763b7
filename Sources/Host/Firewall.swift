import Processes
import SBSCore

/// The host firewall: whether ufw or firewalld is active and lets the http/https ports in. Docker publishes
/// ports around ufw (its own iptables chains come first), so the stack would be reachable anyway; a firewall
/// whose rules say otherwise is a warning with the commands that make the two agree, not a failure. With
/// `firewall: on` (`managed`), configure-firewall runs those commands itself, and the check says so. A firewall
/// in front of the server (the provider's) cannot be seen from here: the self-check before ACME catches that.
public struct FirewallCheck: Sendable {
    public let runner: any CommandRunner

    public init(runner: any CommandRunner) {
        self.runner = runner
    }

    /// - Returns: pass (no active firewall, or one that allows both ports) or warn (an active firewall that does
    ///   not list them), never fail.
    public func check(httpPort: Port, httpsPort: Port, managed: Bool = false) async -> CheckResult {
        let ports = [httpPort.value, httpsPort.value]
        let ufw = (try? await runner.run(["ufw", "status"], timeout: .seconds(10)))
        if let ufw, ufw.status == 0, ufw.stdout.contains("Status: active") {
            let missing = ports.filter { !Self.ufwAllows($0, in: ufw.stdout) }
            if missing.isEmpty {
                return CheckResult(
                    id: "firewall", status: .pass, detail: "ufw is active and allows ports \(Self.list(ports)).")
            }
            if managed { return Self.allowedLater("ufw is active", missing) }
            return CheckResult(
                id: "firewall", status: .warn,
                detail:
                    "ufw is active and does not allow port\(missing.count == 1 ? "" : "s") \(Self.list(missing)); Docker publishes the stack's ports around ufw, so they are open all the same.",
                remedy: "Make ufw's rules say what is true: "
                    + missing.map { "`ufw allow \($0)/tcp`" }.joined(separator: " and ") + ".")
        }
        let firewalld = (try? await runner.run(["firewall-cmd", "--state"], timeout: .seconds(10)))
        if let firewalld, firewalld.status == 0, firewalld.stdout.contains("running") {
            let services =
                (try? await runner.run(["firewall-cmd", "--list-services"], timeout: .seconds(10)))?.stdout ?? ""
            let openPorts =
                (try? await runner.run(["firewall-cmd", "--list-ports"], timeout: .seconds(10)))?.stdout ?? ""
            let missing = ports.filter { !Self.firewalldAllows($0, services: services, ports: openPorts) }
            if missing.isEmpty {
                return CheckResult(
                    id: "firewall", status: .pass, detail: "firewalld is running and allows ports \(Self.list(ports)).")
            }
            if managed { return Self.allowedLater("firewalld is running", missing) }
            return CheckResult(
                id: "firewall", status: .warn,
                detail:
                    "firewalld is running and its default zone does not allow port\(missing.count == 1 ? "" : "s") \(Self.list(missing)).",
                remedy: "Allow them: "
                    + missing.map { "`firewall-cmd --permanent --add-port=\($0)/tcp`" }.joined(separator: " and ")
                    + ", then `firewall-cmd --reload`.")
        }
        return CheckResult(id: "firewall", status: .pass, detail: "No active ufw or firewalld on this host.")
    }

    /// ufw's `status` lists rules as `80/tcp  ALLOW  Anywhere`, `80,443/tcp ALLOW …`, `443 ALLOW …` or by
    /// application profile (`Nginx Full`, `WWW Full`, `OpenSSH`).
    public static func ufwAllows(_ port: Int, in status: String) -> Bool {
        for line in status.split(separator: "\n") where line.contains("ALLOW") {
            let target = line.split(separator: " ", omittingEmptySubsequences: true).first.map(String.init) ?? ""
            let numbers = target.split(separator: "/").first.map { $0.split(separator: ",").map(String.init) } ?? []
            if numbers.contains(String(port)) { return true }
            if port == 22 && line.hasPrefix("OpenSSH") { return true }
            if port == 80 && (line.hasPrefix("Nginx Full") || line.hasPrefix("Nginx HTTP") || line.hasPrefix("WWW")) {
                return true
            }
            if port == 443
                && (line.hasPrefix("Nginx Full") || line.hasPrefix("Nginx HTTPS") || line.hasPrefix("WWW Full")
                    || line.hasPrefix("WWW Secure"))
            {
                return true
            }
        }
        return false
    }

    public static func firewalldAllows(_ port: Int, services: String, ports: String) -> Bool {
        let serviceNames = services.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        if port == 80 && serviceNames.contains("http") { return true }
        if port == 443 && serviceNames.contains("https") { return true }
        if port == 22 && serviceNames.contains("ssh") { return true }
        return ports.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains { $0 == "\(port)/tcp" }
    }

    static func allowedLater(_ state: String, _ missing: [Int]) -> CheckResult {
        CheckResult(
            id: "firewall", status: .pass,
            detail:
                "\(state) and does not allow port\(missing.count == 1 ? "" : "s") \(list(missing)) yet; configure-firewall allows \(missing.count == 1 ? "it" : "them") (firewall: on)."
        )
    }

    static func list(_ ports: [Int]) -> String { ports.map(String.init).joined(separator: " and ") }
}
