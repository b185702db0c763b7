import Host
import SBSCore
import StepGraph
import Wizard

/// `choose-profile`: resolves `auto` from the detected host and fixes the profile's numbers in `profile.json`.
struct ChooseProfile: InstallAction {
    func inputs(_ context: InstallContext, facts: [String: String]) throws -> [String: String] {
        ["profile": context.answers.profile.rawValue, "features.gpu": context.answers.gpu.rawValue,
         "features.monitoring": context.answers.monitoring.rawValue,
         "assets/profiles.yaml": context.assets.digest(under: "assets/profiles.yaml")]
    }

    func run(_ context: InstallContext, facts: [String: String], log: StepLog) async throws -> [String: String] {
        let host = try JSONFile.read(HostFacts.self, from: context.layout.hostFactsFile, writtenBy: "detect-hardware")
        let table = try ProfileTable(yaml: context.assets.text("assets/profiles.yaml"))
        let request = ProfileChoiceRequest(profile: try ProfileRequest(context.answers.profile.rawValue),
                                           gpu: FeatureSwitch(context.answers.gpu), monitoring: FeatureSwitch(context.answers.monitoring))
        let profile = try table.choose(for: host, request: request)
        try JSONFile.write(profile, to: context.layout.profileFile)
        log.progress("profile \(profile.name.rawValue): \(profile.reasons.joined(separator: " "))")
        return [
            "name": profile.name.rawValue,
            "ollama": profile.runsOllama ? "true" : "false",
            "gpu": profile.gpu ? "true" : "false",
            "monitoring": profile.monitoringEnabled ? "true" : "false",
            "compose_profiles": profile.composeProfiles.joined(separator: ","),
            "models": profile.ollamaModels.joined(separator: ","),
            "digest": JSONFile.digest(context.layout.profileFile),
        ]
    }
}

extension FeatureSwitch {
    init(_ toggle: Toggle) {
        switch toggle {
        case .auto: self = .auto
        case .true: self = .on
        case .false: self = .off
        }
    }
}
