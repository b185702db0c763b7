import Foundation
import Testing
@testable import SBSCore
import TestSupport

/// A second Ctrl-C ends sbs at once; the temporary file of a write under way must not stay beside the file it was
/// to replace (`..env.tmp-…`).
@Suite struct TemporariesInFlight {
    @Test func aWriteUnderWayHasItsTemporaryRemovedAndTheOldFileStays() async throws {
        let dir = try Scratch.folder("in-flight")
        let target = dir + "/big.bin"
        try AtomicFile.write("old\n", to: target)
        let bytes = [UInt8](repeating: 0x61, count: 256 << 20)
        let writer = Thread {
            _ = try? AtomicFile.write(bytes, to: target)
        }
        writer.start()
        // Wait for the write to be under way, then clean up as the second signal does.
        let deadline = Date().addingTimeInterval(30)
        while AtomicFile.temporariesInFlight.withLock({ $0.isEmpty }), Date() < deadline { usleep(1_000) }
        let inFlight = AtomicFile.temporariesInFlight.withLock { $0 }
        #expect(inFlight.count == 1 && inFlight.first?.hasPrefix(dir + "/.big.bin.tmp-") == true, "\(inFlight)")
        AtomicFile.removeTemporariesInFlight()
        while !writer.isFinished { usleep(1_000) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["big.bin"], "a temporary file was left")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "old\n")
        #expect(AtomicFile.temporariesInFlight.withLock { $0.isEmpty })
    }
}
