import Foundation
import Processes
import TestSupport
import Testing

@testable import SBSCore

/// A second Ctrl-C ends sbs at once; the temporary file of a write under way must not stay beside the file it was
/// to replace (`..env.tmp-…`).
@Suite struct TemporariesInFlight {
    @Test func aWriteUnderWayHasItsTemporaryRemovedAndTheOldFileStays() async throws {
        let dir = try Scratch.folder("in-flight")
        let target = dir + "/big.bin"
        try AtomicFile.write("old\n", to: target)
        let bytes = [UInt8](repeating: 0x61, count: 256 << 20)
        // Wait for the write to be under way, then clean up as the second signal does; on a thread of its own,
        // started before the write's, so that neither a busy task pool nor a loaded machine can make the wait miss
        // the write. Other tests write files at the same time: only this folder's temporaries are looked at.
        let prefix = dir + "/"
        async let cleaned = onOwnThread { () -> [String] in
            let deadline = Date().addingTimeInterval(30)
            while Date() < deadline {
                let mine = AtomicFile.temporariesInFlight.withLock { Array($0.filter { $0.hasPrefix(prefix) }) }
                if !mine.isEmpty {
                    AtomicFile.removeTemporariesInFlight(under: prefix)
                    return mine
                }
                usleep(100)
            }
            return []
        }
        // The write, on a thread of its own; it fails once its temporary file is gone (the rename finds nothing).
        async let written = onOwnThread { (try? AtomicFile.write(bytes, to: target)) != nil }
        let inFlight = await cleaned
        #expect(inFlight.count == 1 && inFlight.first?.hasPrefix(dir + "/.big.bin.tmp-") == true, "\(inFlight)")
        #expect(await written == false, "the write went through")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["big.bin"], "a temporary file was left")
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "old\n")
        #expect(AtomicFile.temporariesInFlight.withLock { $0.filter { $0.hasPrefix(prefix) } }.isEmpty)
    }
}
