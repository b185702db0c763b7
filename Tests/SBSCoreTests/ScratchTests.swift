import Foundation
import TestSupport
import Testing

/// The tests' scratch folder: one per test process, and the folders of test processes that are gone are removed.
@Suite struct ScratchFolder {
    @Test func foldersOfEndedTestProcessesGoAndThoseOfLiveOnesStay() throws {
        let base = try Scratch.folder("scratch-base")
        defer { try? FileManager.default.removeItem(atPath: base) }
        // A pid that has ended: a child that exited and was waited for.
        let child = try #require(spawnQuietly(["true"]))
        #expect(waitForExit(child) == 0)
        let ended = base + "/sbs-tests.\(child).abcdef"
        let live = base + "/sbs-tests.\(getpid()).abcdef"
        let other = base + "/sbs-tests-unrelated"
        for folder in [ended, live, other] {
            try FileManager.default.createDirectory(atPath: folder + "/inside", withIntermediateDirectories: true)
        }
        Scratch.removeFoldersOfEndedProcesses(in: base)
        #expect(!FileManager.default.fileExists(atPath: ended))
        #expect(FileManager.default.fileExists(atPath: live + "/inside"))
        #expect(FileManager.default.fileExists(atPath: other + "/inside"))
    }

    @Test func everyFolderIsUnderTheOneRootOfThisProcess() throws {
        let folder = try Scratch.folder("scratch")
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(folder.hasPrefix(Scratch.root + "/scratch-"))
        #expect((Scratch.root as NSString).lastPathComponent.hasPrefix("sbs-tests.\(getpid())."))
        #expect(Scratch.path("x") != Scratch.path("x"))
    }
}
