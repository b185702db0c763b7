import Host
import SBSCore
import StepGraph
import Wizard

/// `choose-profile`: resolves `auto` from the detected host and fixes the profile's numbers; the resolved profile
/// is the step's output, which `write-configs` renders from and `pull-models`' `when:` tests.
struct ChooseProfile: StepAction {
    static let name = "choose-profile"
    static let conditionFacts: Set<String> = ["name", "runsOllama", "gpu", "monitoringEnabled"]

    struct Input: Codable, Hashable, Sendable {
        var host: HostFacts
        var profilesTable: String
        var profile: String
        var gpu: String
        var monitoring: String
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        let answers = context.answers
        return Input(
            host: try needs.output(of: DetectHardware.self),
            profilesTable: try context.assets.text("assets/profiles.yaml"),
            profile: answers.profile.rawValue, gpu: answers.gpu.rawValue, monitoring: answers.monitoring.rawValue)
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<ResolvedProfile> {
        let table = try ProfileTable(yaml: input.profilesTable)
        let request = ProfileChoiceRequest(
            profile: try ProfileRequest(input.profile),
            gpu: FeatureSwitch(rawValue: input.gpu) ?? .auto,
            monitoring: FeatureSwitch(rawValue: input.monitoring) ?? .auto)
        let profile = try table.choose(for: input.host, request: request)
        log.progress("profile \(profile.name.rawValue): \(profile.reasons.joined(separator: " "))")
        return StepResult(profile)
    }
}
