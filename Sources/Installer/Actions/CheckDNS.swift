import Host
import SBSCore
import StepGraph
import Wizard

/// `check-dns`: the certificate's names resolve to this host (or `network.public_ip`), so Let's Encrypt's
/// validation will reach it. Under `checks.dns: warn` a mismatch is reported and the install goes on.
struct CheckDNS: StepAction {
    static let name = "check-dns"

    struct Input: Codable, Hashable, Sendable {
        var names: [DomainName]
        var publicIP: String?
        var policy: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            names: context.answers.certificateNames, publicIP: context.answers.publicIP,
            policy: context.answers.dnsCheck.rawValue)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Nothing> {
        let policy = DNSPolicy(rawValue: input.policy) ?? .strict
        let publicAddresses = try input.publicIP.map { [try IPAddress($0)] } ?? []
        let report = await DNSCheck().check(names: input.names, publicAddresses: publicAddresses, policy: policy)
        for name in report.names {
            log.progress(
                "\(name.name): A \(name.answer.a.map(\.description).joined(separator: ", ")) AAAA \(name.answer.aaaa.map(\.description).joined(separator: ", "))\(name.problems.isEmpty ? "" : " — " + name.problems.joined(separator: "; "))"
            )
        }
        switch report.result.status {
        case .fail: throw report.result.userError
        case .warn: log.progress("warning: \(report.result.detail)")
        case .pass, .skip: break
        }
        return StepResult()
    }
}
