import Foundation
import SBSCore
import TestSupport
import Testing

/// `AtomicFile.read` reads a regular file under a cap, checked on the open descriptor, and refuses anything else at
/// once, naming the path and what it is.
@Suite struct BoundedReads {
    static let small = ReadLimit(bytes: 1024, kind: "a test file")

    func refusal(_ path: String, limit: ReadLimit = small) -> String? {
        do {
            _ = try AtomicFile.read(path, limit: limit)
            return nil
        } catch {
            return error.message
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aFIFOIsRefusedAtOnceInsteadOfWaitingForAWriter() throws {
        let folder = try Scratch.folder("read-fifo")
        try #require(mkfifo(folder + "/fifo", 0o600) == 0)
        #expect(
            refusal(folder + "/fifo")
                == "\(folder)/fifo is not a regular file (it is a FIFO); sbs reads only regular files.")
        #expect(throws: UserError.self) { try AtomicFile.checkRegularFile(folder + "/fifo", limit: Self.small) }
    }

    @Test func aDeviceAndAFolderAreRefused() throws {
        let folder = try Scratch.folder("read-kinds")
        #expect(
            refusal("/dev/zero")
                == "/dev/zero is not a regular file (it is a character device); sbs reads only regular files.")
        #expect(refusal(folder) == "\(folder) is not a regular file (it is a folder); sbs reads only regular files.")
    }

    @Test func aFileOverItsCapIsRefusedAndOneAtTheCapRead() throws {
        let folder = try Scratch.folder("read-cap")
        try AtomicFile.write([UInt8](repeating: 65, count: 1024), to: folder + "/at-cap")
        try AtomicFile.write([UInt8](repeating: 65, count: 1025), to: folder + "/over-cap")
        #expect(try AtomicFile.read(folder + "/at-cap", limit: Self.small)?.count == 1024)
        #expect(
            refusal(folder + "/over-cap")
                == "\(folder)/over-cap is larger than 1 KiB, the most sbs reads for a test file.")
        #expect(try AtomicFile.checkRegularFile(folder + "/at-cap", limit: Self.small))
        #expect(try AtomicFile.checkRegularFile(folder + "/missing", limit: Self.small) == false)
        #expect(try AtomicFile.read(folder + "/missing", limit: Self.small) == nil)
    }

    @Test func aLinkToARegularFileIsReadUnlessLinksAreRefused() throws {
        let folder = try Scratch.folder("read-link")
        try AtomicFile.write("answers\n", to: folder + "/file")
        try FileManager.default.createSymbolicLink(atPath: folder + "/link", withDestinationPath: folder + "/file")
        #expect(try AtomicFile.readText(folder + "/link", limit: Self.small) == "answers\n")
        #expect(throws: UserError.self) {
            try AtomicFile.read(folder + "/link", limit: Self.small, followingLinks: false)
        }
        try FileManager.default.createSymbolicLink(atPath: folder + "/to-zero", withDestinationPath: "/dev/zero")
        #expect(refusal(folder + "/to-zero")?.contains("(it is a character device)") == true)
    }
}
