import Foundation
import SBSCore
import Testing

@testable import Host

@Suite("Profiles table and choice")
struct ProfileTests {
    @Test func theRepositoryTableLoads() throws {
        let table = try Fixtures.profileTable()
        #expect(table.profiles.map(\.name) == [.minimum, .recommended, .optimal])
        #expect(table.rule(.recommended)?.monitoring.level == .full)
    }

    @Test func tableErrorsAreUserErrors() {
        #expect(throws: UserError.self) { try ProfileTable(yaml: "version: 1\nprofiles: [") }
        #expect(throws: UserError.self) { try ProfileTable(yaml: "version: 2\nprofiles: []") }
        #expect(throws: UserError.self) { try ProfileTable(yaml: "version: 1\nprofiles: []") }
    }

    @Test(arguments: [
        (15872, ProfileName.minimum), (28672, .recommended), (32000, .recommended), (57344, .optimal),
        (128_000, .optimal),
    ])
    func autoPicksTheLargestProfileTheHostMeets(memory: Int, expected: ProfileName) throws {
        let profile = try Fixtures.profileTable().choose(
            for: makeFacts(memoryMiB: memory), request: ProfileChoiceRequest())
        #expect(profile.name == expected)
        #expect(!profile.explicit)
        // Limits never exceed what the host has.
        let total = StackService.allCases.filter { $0 != .ollama || profile.runsOllama }.map {
            profile.memoryLimitMiB(for: $0)
        }.reduce(0, +)
        #expect(total < memory)
    }

    @Test func belowTheMinimumIsRefusedUnlessNamed() throws {
        let table = try Fixtures.profileTable()
        let facts = makeFacts(memoryMiB: 7900)
        #expect(throws: UserError.self) { try table.choose(for: facts, request: ProfileChoiceRequest()) }
        let forced = try table.choose(for: facts, request: ProfileChoiceRequest(profile: .named(.recommended)))
        #expect(forced.name == .recommended)
        #expect(forced.reasons.contains { $0.contains("below its floor") })
    }

    @Test func aLargeGPURunsModelsEvenOnTheMinimumProfile() throws {
        let profile = try Fixtures.profileTable().choose(
            for: makeFacts(memoryMiB: 15872, gpuMiB: 24564), request: ProfileChoiceRequest())
        #expect(profile.name == .minimum)
        #expect(profile.runsOllama && profile.gpu)
        #expect(profile.ollamaModels == ["llama3.1:8b"])
        #expect(profile.composeProfiles == ["gpu", "monitoring", "ollama"])
    }

    @Test func gpuMemoryDecidesModelSize() throws {
        let table = try Fixtures.profileTable()
        func models(_ gpu: Int?) throws -> [String] {
            try table.choose(for: makeFacts(memoryMiB: 64256, gpuMiB: gpu), request: ProfileChoiceRequest())
                .ollamaModels
        }
        #expect(try models(nil) == ["qwen2.5:14b"])
        #expect(try models(8192) == ["qwen2.5:14b"])
        #expect(try models(12288) == ["qwen2.5:14b", "llama3.1:8b"])
        #expect(try models(24576) == ["qwen2.5:32b", "llama3.1:8b"])
        #expect(try models(81920) == ["llama3.3:70b", "llama3.1:8b"])
    }

    @Test func featureOverrides() throws {
        let table = try Fixtures.profileTable()
        let facts = makeFacts(memoryMiB: 64256, gpuMiB: 24564)
        let noGPU = try table.choose(for: facts, request: ProfileChoiceRequest(gpu: .off, monitoring: .off))
        #expect(!noGPU.gpu && !noGPU.monitoringEnabled && noGPU.runsOllama)
        #expect(noGPU.composeProfiles == ["ollama"])
        #expect(noGPU.ollamaModels == ["qwen2.5:14b"])
        let monitored = try table.choose(
            for: makeFacts(memoryMiB: 15872), request: ProfileChoiceRequest(monitoring: .on))
        #expect(monitored.monitoringEnabled && monitored.monitoring.level == .full)
        #expect(monitored.composeProfiles == ["grafana", "monitoring"] && monitored.runsGrafana)
    }

    @Test func choiceIsDeterministic() throws {
        let table = try Fixtures.profileTable()
        let facts = makeFacts(memoryMiB: 32000, cpus: 6)
        #expect(
            try table.choose(for: facts, request: ProfileChoiceRequest())
                == table.choose(for: facts, request: ProfileChoiceRequest()))
    }

    @Test func profileRequestParsing() throws {
        #expect(try ProfileRequest("auto") == .auto)
        #expect(try ProfileRequest("optimal") == .named(.optimal))
        let error = #expect(throws: UserError.self) { try ProfileRequest("huge") }
        #expect(error?.remedy?.contains("recommended") == true)
    }

    @Test func postgresNumbersFollowTheDatabaseLimit() throws {
        let profile = try Fixtures.profileTable().choose(
            for: makeFacts(memoryMiB: 32000, cpus: 8), request: ProfileChoiceRequest())
        let db = profile.memoryLimitMiB(for: .appDB)
        #expect(db == 6400)
        #expect(profile.postgres.sharedBuffersMiB == db / 4)
        #expect(profile.postgres.effectiveCacheSizeMiB == db * 3 / 4)
        #expect(profile.postgres.workMemMiB == 8)  // (6400 − 1600) / (200 × 3)
        #expect(profile.postgres.maintenanceWorkMemMiB == 320)
        #expect(profile.apiWorkers == 4)
    }
}

@Suite("Profiles table validation")
struct ProfileTableValidationTests {
    @Test func everyProblemOfTheTableIsNamedWithItsLineAndColumn() throws {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/assets/profiles.yaml", encoding: .utf8)
            .replacingOccurrences(of: "memory_floor_mib: 14336", with: "memory_flor_mib: 14336")
            .replacingOccurrences(of: "run: false", with: "run: nope")
        let error = #expect(throws: UserError.self) { try ProfileTable(yaml: text) }
        let message = error?.message ?? ""
        #expect(message.hasPrefix("The profiles table does not parse: "))
        #expect(
            message.contains(
                "assets/profiles.yaml:19:5: unknown key 'profiles[0].memory_flor_mib' (did you mean 'profiles[0].memory_floor_mib'?)"
            ))
        #expect(message.contains("assets/profiles.yaml:16:5: missing required field 'profiles[0].memory_floor_mib'"))
        #expect(
            message.contains("assets/profiles.yaml:46:12: 'profiles[0].ollama.run' must be true or false, not 'nope'"))
    }

    @Test func aServiceWithoutAMemoryLimitIsRefused() throws {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/assets/profiles.yaml", encoding: .utf8)
            .replacingOccurrences(of: "      nginx:      {share: 0,    min_mib: 256,  max_mib: 256}\n", with: "")
        let error = #expect(throws: UserError.self) { try ProfileTable(yaml: text) }
        #expect(error?.message.contains("missing required field 'profiles[0].memory_limits.nginx'") == true)
    }

    @Test func aModelNameThatCouldBreakAFileIsRejected() throws {
        let text = try String(contentsOfFile: Fixtures.repositoryRoot + "/assets/profiles.yaml", encoding: .utf8)
            .replacingOccurrences(of: "\"mistral:7b\"", with: "\"mistral:7b; rm -rf /\"")
        #expect(throws: UserError.self) { try ProfileTable(yaml: text) }
    }
}
