import Foundation
import SBSCore
import Testing

@testable import Installer

/// One hop from a step id to its code: `steps/ID.yaml` runs the action ID, written as a type of the same name (in
/// upper camel case) in `Sources/Installer/Actions/` in a file of that name; that folder holds nothing else.
@Suite struct StepFilesLeadToTheirCode {
    @Test func everyStepHasItsActionFileAndEveryActionFileItsStep() throws {
        let graph = try InstallSession(layout: Layout(root: "/tmp/unused"), sysroot: nil, assetsDirectory: nil).graph()
        let stepFiles = try FileManager.default.contentsOfDirectory(atPath: repository + "/steps").filter {
            $0.hasSuffix(".yaml")
        }
        let actionsFolder = repository + "/Sources/Installer/Actions"
        let actionFiles = try FileManager.default.contentsOfDirectory(atPath: actionsFolder).filter {
            $0.hasSuffix(".swift")
        }
        #expect(stepFiles.count == graph.steps.count)
        #expect(
            actionFiles.count == stepFiles.count, "Actions/ holds \(actionFiles.sorted()), steps/ \(stepFiles.sorted())"
        )
        for file in stepFiles {
            let id = String(file.dropLast(".yaml".count))
            let step = try #require(graph[id], "steps/\(file) is not in the graph")
            #expect(
                step.action == id, "steps/\(file) runs the action \(step.action): an action is named after its step")
            let matching = actionFiles.filter {
                $0.dropLast(".swift".count).lowercased() == id.replacingOccurrences(of: "-", with: "")
            }
            guard matching.count == 1, let swiftFile = matching.first else {
                Issue.record("steps/\(file) has no file of its name in Sources/Installer/Actions (found \(matching))")
                continue
            }
            let type = String(swiftFile.dropLast(".swift".count))
            let source = try String(contentsOfFile: actionsFolder + "/" + swiftFile, encoding: .utf8)
            #expect(
                source.contains("struct \(type): StepAction {"),
                "Actions/\(swiftFile) does not declare the action \(type)")
            #expect(
                source.contains("static let name = \"\(id)\""), "the action in Actions/\(swiftFile) is not named \(id)")
        }
    }
}
