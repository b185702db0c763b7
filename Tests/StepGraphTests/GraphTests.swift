import Foundation
import SBSCore
import Testing

@testable import StepGraph

/// The repository's `steps/` folder, read as the binary would read its embedded copy.
func repositorySteps() throws -> [String: String] {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    let folder = root.appendingPathComponent("steps")
    var files: [String: String] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) where name.hasSuffix(".yaml") {
        files["steps/\(name)"] = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
    }
    return files
}

/// The design's actions, with the facts the repository's `when:` conditions read.
var designCatalog: ActionCatalog {
    var actions = Dictionary(uniqueKeysWithValues: designActions.map { ($0, Set<String>()) })
    actions["choose-profile"] = ["runsOllama"]
    return ActionCatalog(actions: actions, baseFacts: ["checks.dns", "tls.mode", "features.backups"])
}

let designActions: Set<String> = [
    "preflight", "detect-hardware", "collect-answers", "choose-profile", "check-dns",
    "generate-secrets", "write-configs", "ensure-docker", "start-proxy",
    "obtain-certificate", "start-stack", "pull-models", "verify", "ensure-restic", "install-timers",
    "restore-database", "configure-firewall",
]

@Suite struct GraphLoading {
    @Test func theRepositoryDeclaresTheStepsOfTheDesign() throws {
        let graph = try StepLoader.load(try repositorySteps(), catalog: designCatalog)
        #expect(Set(graph.ids) == designActions)
        #expect(graph["write-configs"]?.needs == ["choose-profile", "generate-secrets"])
        #expect(graph["obtain-certificate"]?.needs == ["start-proxy", "check-dns"])
        #expect(graph["verify"]?.needs == ["start-stack", "pull-models", "choose-profile"])
        #expect(graph["pull-models"]?.needs == ["start-stack", "choose-profile"])
        #expect(graph["install-timers"]?.needs == ["verify", "ensure-restic", "choose-profile"])
        #expect(
            graph["start-proxy"]?.needs == [
                "write-configs", "ensure-docker", "choose-profile", "restore-database", "configure-firewall",
            ])
        #expect(graph["configure-firewall"]?.needs == ["preflight"])
    }

    @Test func orderPutsEveryStepAfterWhatItNeeds() throws {
        let graph = try StepLoader.load(try repositorySteps(), catalog: designCatalog)
        let position = Dictionary(uniqueKeysWithValues: graph.ids.enumerated().map { ($1, $0) })
        for step in graph.steps {
            for need in step.needs { #expect(position[need]! < position[step.id]!, "\(need) before \(step.id)") }
        }
        #expect(graph.ids.first == "collect-answers")
        #expect(graph.ids.last == "install-timers")
    }

    @Test func throughIsTheStepAndWhatItNeedsTransitively() throws {
        let graph = try StepLoader.load(try repositorySteps(), catalog: designCatalog)
        #expect(
            graph.closure(of: "write-configs") == [
                "write-configs", "choose-profile", "generate-secrets",
                "detect-hardware", "collect-answers",
            ])
        #expect(graph.dependents(of: "start-stack") == ["start-stack", "pull-models", "verify", "install-timers"])
    }

    @Test func yamlSyntaxErrorsNameFileLineAndColumn() {
        let files = ["steps/a.yaml": "id: a\ntitle: A\naction: x\nneeds: [b\n"]
        #expect {
            try StepLoader.load(files, knownActions: ["x"])
        } throws: { error in
            let text = String(describing: error)
            return text.contains("steps/a.yaml:") && text.contains("YAML syntax error")
        }
    }

    @Test func everyProblemIsReportedWithItsLine() {
        let files = [
            "steps/a.yaml": "id: a\ntitle: A\naction: x\nneeds: [ghost]\n",
            "steps/b.yaml": "id: b\ntitle: B\naction: nope\n",
            "steps/c.yaml": "id: c\ntitel: C\naction: x\n",
        ]
        do {
            _ = try StepLoader.load(files, knownActions: ["x"])
            Issue.record("an invalid graph loaded")
        } catch {
            let problems = error.problems.joined(separator: "\n")
            #expect(problems.contains("steps/c.yaml:2:1: unknown key 'titel' (did you mean 'title'?)"))
            #expect(problems.contains("steps/c.yaml:1:1: missing required field 'title'"))
        }
        // Once the files parse, the graph checks report needs and actions with their lines.
        let parsed = [
            "steps/a.yaml": "id: a\ntitle: A\naction: x\nneeds: [ghost]\n",
            "steps/b.yaml": "id: b\ntitle: B\naction: nope\n",
        ]
        do {
            _ = try StepLoader.load(parsed, knownActions: ["x"])
            Issue.record("an invalid graph loaded")
        } catch {
            #expect(error.problems.contains("steps/a.yaml:4: step 'a' needs 'ghost', which no step declares"))
            #expect(error.problems.contains { $0.hasPrefix("steps/b.yaml:3: unknown action 'nope'") })
        }
    }

    @Test func cyclesAreRefusedAndNamed() {
        let files = [
            "steps/a.yaml": "id: a\ntitle: A\naction: x\nneeds: [c]\n",
            "steps/b.yaml": "id: b\ntitle: B\naction: x\nneeds: [a]\n",
            "steps/c.yaml": "id: c\ntitle: C\naction: x\nneeds: [b]\n",
            "steps/d.yaml": "id: d\ntitle: D\naction: x\n",
        ]
        do {
            _ = try StepLoader.load(files, knownActions: ["x"])
            Issue.record("a cycle loaded")
        } catch {
            let text = error.description
            #expect(text.contains("cycle"))
            #expect(text.contains("a") && text.contains("b") && text.contains("c"))
            #expect(!text.contains("steps/d.yaml"))
        }
    }

    @Test func duplicateIdsAndMismatchedFileNamesAreRefused() {
        let files = [
            "steps/a.yaml": "id: a\ntitle: A\naction: x\n",
            "steps/z.yaml": "id: a\ntitle: Z\naction: x\n",
        ]
        do {
            _ = try StepLoader.load(files, knownActions: ["x"])
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains("steps/z.yaml:1:5: step id 'a' does not match its file name (z.yaml)"))
        }
    }

    @Test func retryTimeoutAndWhenAreRead() throws {
        let files = [
            "steps/a.yaml":
                "id: a\ntitle: A\naction: x\nwhen: tls.mode == acme && !features.gpu\nretry:\n  attempts: 3\n  delay: 2m\ntimeout: 90s\n"
        ]
        let step = try #require(
            try StepLoader.load(files, knownActions: ["x"], baseFacts: ["tls.mode", "features.gpu"])["a"])
        #expect(step.retry == RetryPolicy(attempts: 3, delay: .seconds(120)))
        #expect(step.timeout == .seconds(90))
        #expect(step.when?.holds(in: ["tls.mode": "acme", "features.gpu": "false"]) == true)
        #expect(step.when?.holds(in: ["tls.mode": "acme", "features.gpu": "true"]) == false)
        #expect(step.when?.holds(in: ["tls.mode": "files"]) == false)
    }

    @Test func aWhenKeyMustBeAnAnswerOrADeclaredOutputOfANeededStep() {
        let catalog = ActionCatalog(actions: ["x": ["ready"], "y": []], baseFacts: ["tls.mode"])
        let files = [
            "steps/a.yaml": "id: a\ntitle: A\naction: x\n",
            "steps/b.yaml": "id: b\ntitle: B\naction: y\nneeds: [a]\nwhen: a.redy && tls.mdoe == acme\n",
            "steps/c.yaml": "id: c\ntitle: C\naction: y\nwhen: a.ready\n",
            "steps/d.yaml": "id: d\ntitle: D\naction: y\nneeds: [b]\nwhen: a.ready && tls.mode == acme\n",
            "steps/e.yaml": "id: e\ntitle: E\naction: y\nneeds: [b, a]\nwhen: a.ready\n",
        ]
        do {
            _ = try StepLoader.load(files, catalog: catalog)
            Issue.record("loaded")
        } catch {
            #expect(
                error.problems.sorted() == [
                    "steps/b.yaml:5: when names 'a.redy', which 'a' does not output (did you mean 'a.ready'?)",
                    "steps/b.yaml:5: when names 'tls.mdoe', which is neither an answer nor an output of a step it needs (did you mean 'tls.mode'?)",
                    "steps/c.yaml:4: when names 'a.ready', but step 'c' does not need 'a'; a step reads only the steps its needs name (add 'a' to needs)",
                    "steps/d.yaml:5: when names 'a.ready', but step 'd' needs 'a' only through 'b'; a step reads only the steps its needs name (add 'a' to needs)",
                ], "d reaches a only through b: a need of a need is not read; e names a and reads it")
        }
    }

    @Test func aNeedAlsoReachedThroughAnotherChangesNeitherOrderNorScope() throws {
        let graph = try StepLoader.load(try repositorySteps(), catalog: designCatalog)
        // The graph with only the needs that order each step (its pull-models tests choose-profile's output
        // without naming it, which only the old rule allowed).
        let ordering = try Graph(
            graph.steps.map { step in
                var step = step
                step.needs = graph.orderingNeeds(of: step)
                return step
            },
            catalog: ActionCatalog(
                actions: designCatalog.actions,
                baseFacts: designCatalog.baseFacts.union(["choose-profile.runsOllama"])))
        // As the steps were before they named choose-profile, so their fingerprints are the same (verify's
        // start-stack was already reached through pull-models; verify runs every time).
        #expect(graph.orderingNeeds(of: try #require(graph["verify"])) == ["pull-models"])
        #expect(graph.orderingNeeds(of: try #require(graph["pull-models"])) == ["start-stack"])
        #expect(graph.orderingNeeds(of: try #require(graph["start-stack"])) == ["obtain-certificate"])
        // start-proxy waits for restore-database, which needs write-configs and ensure-docker itself.
        #expect(
            graph.orderingNeeds(of: try #require(graph["start-proxy"])) == ["restore-database", "configure-firewall"])
        #expect(graph.ids == ordering.ids)
        for id in graph.ids {
            #expect(graph.closure(of: id) == ordering.closure(of: id), "--through \(id)")
            #expect(graph.dependents(of: id) == ordering.dependents(of: id), "--from \(id)")
        }
    }

    @Test func badDurationsAndConditionsAreReported() {
        let files = ["steps/a.yaml": "id: a\ntitle: A\naction: x\nwhen: tls.mode == \ntimeout: soon\n"]
        do {
            _ = try StepLoader.load(files, knownActions: ["x"])
            Issue.record("loaded")
        } catch {
            #expect(error.description.contains("steps/a.yaml:5:10: timeout 'soon' is not a duration"))
        }
    }
}
