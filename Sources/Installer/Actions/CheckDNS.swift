import Host
import SBSCore
import StepGraph

/// `check-dns`: the certificate's names resolve to this host (or `network.public_ip`), so Let's Encrypt's
/// validation will reach it. Under `checks.dns: warn` a mismatch is reported and the install goes on.
struct CheckDNS: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        ["names": context.answers.certificateNames.map(\.value).joined(separator: ","),
         "network.public_ip": context.answers.publicIP ?? "", "checks.dns": context.answers.dnsCheck.rawValue]
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let policy = DNSPolicy(rawValue: context.answers.dnsCheck.rawValue) ?? .strict
        let publicAddresses = try context.answers.publicIP.map { [try IPAddress($0)] } ?? []
        let report = await DNSCheck().check(names: context.answers.certificateNames, publicAddresses: publicAddresses, policy: policy)
        for name in report.names {
            log.progress("\(name.name): A \(name.answer.a.map(\.description).joined(separator: ", ")) AAAA \(name.answer.aaaa.map(\.description).joined(separator: ", "))\(name.problems.isEmpty ? "" : " — " + name.problems.joined(separator: "; "))")
        }
        switch report.result.status {
        case .fail: throw report.result.userError
        case .warn: log.progress("warning: \(report.result.detail)")
        case .pass, .skip: break
        }
        return [:]
    }
}
