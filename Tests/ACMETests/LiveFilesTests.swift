import Foundation
import Testing

@testable import ACME

/// The certbot layout: versions in the archive, the live path a link switched with one rename.
@Suite("Live certificate files")
struct LiveFilesTests {
    func material(_ domains: [String]) throws -> (cert: String, key: String) {
        let made = try CertificateTools.makeSelfSigned(domains: domains)
        return (made.certificatePEM, made.keyPEM)
    }

    @Test func eachInstallIsANewVersionAndTheLiveLinkSwitches() throws {
        let ssl = temporaryFolder()
        let live = ssl + "/live/shop.example.com"
        let first = try material(["shop.example.com"])
        try LiveFiles.write(leafPEM: first.cert, chainPEMs: [], keyPEM: first.key, to: live)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/shop.example.com/1")
        let second = try material(["shop.example.com", "www.shop.example.com"])
        try LiveFiles.write(leafPEM: second.cert, chainPEMs: [], keyPEM: second.key, to: live)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/shop.example.com/2")
        #expect(try String(contentsOfFile: live + "/cert.pem", encoding: .utf8) == second.cert)
        #expect(try String(contentsOfFile: ssl + "/archive/shop.example.com/1/cert.pem", encoding: .utf8) == first.cert)
        let mode = try FileManager.default.attributesOfItem(atPath: live + "/privkey.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        let installed = try LiveFiles.check(live, covering: ["shop.example.com", "www.shop.example.com"])
        #expect(installed.names == ["shop.example.com", "www.shop.example.com"])

        // Only the newest versions are kept.
        for _ in 0..<4 {
            let next = try material(["shop.example.com"])
            try LiveFiles.write(leafPEM: next.cert, chainPEMs: [], keyPEM: next.key, to: live)
        }
        #expect(FileManager.default.fileExists(atPath: ssl + "/archive/shop.example.com/6/cert.pem"))
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: ssl + "/archive/shop.example.com").sorted() == [
                "4", "5", "6",
            ])
    }

    @Test func aLiveFolderFromBeforeVersionsIsMovedIntoTheArchive() throws {
        let ssl = temporaryFolder()
        let live = ssl + "/live/shop.example.com"
        let old = try material(["shop.example.com"])
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        for name in ["cert.pem", "chain.pem", "fullchain.pem", "privkey.pem"] {
            try (name == "privkey.pem" ? old.key : old.cert).write(
                toFile: live + "/" + name, atomically: true, encoding: .utf8)
        }
        let new = try material(["shop.example.com"])
        try LiveFiles.write(leafPEM: new.cert, chainPEMs: [], keyPEM: new.key, to: live)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: live) == "../archive/shop.example.com/1")
        #expect(try String(contentsOfFile: ssl + "/archive/shop.example.com/0/cert.pem", encoding: .utf8) == old.cert)
    }

    @Test func anOutFolderKeepsItsVersionsBesideIt() throws {
        let dir = temporaryFolder()
        let out = dir + "/certs/out"
        let made = try material(["shop.example.com"])
        try LiveFiles.write(leafPEM: made.cert, chainPEMs: [], keyPEM: made.key, to: out)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out) == ".out.versions/1")
        try LiveFiles.check(out, covering: ["shop.example.com"])
    }

    // A reader that resolves the live link once (as a reload that opens the folder does) always sees a key and a
    // certificate of one version while installs go on. With files replaced one by one in place it would not.
    @Test func aReaderNeverSeesTheKeyOfOneVersionWithTheCertificateOfAnother() async throws {
        let live = temporaryFolder() + "/live/shop.example.com"
        let sets = try (0..<3).map { _ in try material(["shop.example.com"]) }
        try LiveFiles.write(leafPEM: sets[0].cert, chainPEMs: [], keyPEM: sets[0].key, to: live)
        let writer = Task.detached {
            for index in 1...30 {
                let set = sets[index % sets.count]
                try LiveFiles.write(leafPEM: set.cert, chainPEMs: [], keyPEM: set.key, to: live)
            }
        }
        var mismatches = 0
        var reads = 0
        for _ in 0..<5000 where reads < 300 {
            // Resolved once; a live path that is a plain folder (files replaced in place) is read as it is.
            let folder =
                (try? FileManager.default.destinationOfSymbolicLink(atPath: live))
                .map { (live as NSString).deletingLastPathComponent + "/" + $0 } ?? live
            guard let cert = try? String(contentsOfFile: folder + "/cert.pem", encoding: .utf8),
                let key = try? String(contentsOfFile: folder + "/privkey.pem", encoding: .utf8)
            else { continue }
            reads += 1
            if !sets.contains(where: { $0.cert == cert && $0.key == key }) { mismatches += 1 }
            await Task.yield()
        }
        try await writer.value
        #expect(mismatches == 0)
        try LiveFiles.check(live, covering: ["shop.example.com"])
    }

    @Test func checkFindsAKeyOfAnotherCertificateAndAMissingName() throws {
        let live = temporaryFolder() + "/live/shop.example.com"
        let a = try material(["shop.example.com"])
        let b = try material(["shop.example.com"])
        try LiveFiles.write(leafPEM: a.cert, chainPEMs: [], keyPEM: b.key, to: live)
        #expect { try LiveFiles.check(live, covering: ["shop.example.com"]) } throws: { error in
            (error as? ACMEError)?.message.contains("privkey.pem is not the key of the certificate") == true
        }
        try LiveFiles.write(leafPEM: a.cert, chainPEMs: [], keyPEM: a.key, to: live)
        try LiveFiles.check(live, covering: ["shop.example.com"])
        #expect { try LiveFiles.check(live, covering: ["shop.example.com", "www.shop.example.com"]) } throws: { error in
            (error as? ACMEError)?.message.contains("does not cover www.shop.example.com") == true
        }
        // A wildcard covers one label.
        let wild = try material(["*.example.com"])
        try LiveFiles.write(leafPEM: wild.cert, chainPEMs: [], keyPEM: wild.key, to: live)
        try LiveFiles.check(live, covering: ["shop.example.com"])
        #expect(throws: ACMEError.self) { try LiveFiles.check(live, covering: ["a.shop.example.com"]) }
    }

    // sbs replaces only a live path it made: nothing, its own link, or a folder of exactly its four files.
    // Everything else is refused, named, and left as it was (no archive made, nothing moved or written).

    /// Every file and link under `path` with its content or target, to compare before and after.
    func snapshot(_ path: String) -> [String: String] {
        var result: [String: String] = [:]
        let manager = FileManager.default
        if let target = try? manager.destinationOfSymbolicLink(atPath: path) { return ["": "-> " + target] }
        if let data = manager.contents(atPath: path), (try? manager.contentsOfDirectory(atPath: path)) == nil {
            return ["": String(decoding: data, as: UTF8.self)]
        }
        for name in (manager.subpaths(atPath: path) ?? []).sorted() {
            let full = path + "/" + name
            if let target = try? manager.destinationOfSymbolicLink(atPath: full) {
                result[name] = "-> " + target
            } else if let data = manager.contents(atPath: full) {
                result[name] = String(decoding: data, as: UTF8.self)
            } else {
                result[name] = "<dir>"
            }
        }
        return result
    }

    func expectRefused(_ out: String, saying words: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = snapshot(out)
        let siblings = try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent)
            .sorted()
        let made = try material(["shop.example.com"])
        #expect(sourceLocation: sourceLocation) {
            try LiveFiles.write(leafPEM: made.cert, chainPEMs: [], keyPEM: made.key, to: out)
        } throws: { error in
            let message = (error as? ACMEError)?.message ?? ""
            return message.contains("sbs will not replace \(out)") && message.contains(words)
        }
        #expect(snapshot(out) == before, sourceLocation: sourceLocation)
        #expect(
            try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent).sorted()
                == siblings,
            "no archive or link made beside it", sourceLocation: sourceLocation)
    }

    @Test func aFolderWithOtherFilesIsRefusedAndLeftAsItIs() throws {
        let dir = temporaryFolder()
        let out = dir + "/d"
        try FileManager.default.createDirectory(atPath: out + "/sub", withIntermediateDirectories: true)
        try "important\n".write(toFile: out + "/passwd", atomically: true, encoding: .utf8)
        try expectRefused(out, saying: "passwd")
        // The four names and one more is not sbs's either, nor the four with one of them a link.
        let mixed = dir + "/mixed"
        try FileManager.default.createDirectory(atPath: mixed, withIntermediateDirectories: true)
        for name in LiveFiles.fileNames + ["notes.txt"] {
            try name.write(toFile: mixed + "/" + name, atomically: true, encoding: .utf8)
        }
        try expectRefused(mixed, saying: "notes.txt")
        let linked = dir + "/linked"
        try FileManager.default.createDirectory(atPath: linked, withIntermediateDirectories: true)
        for name in LiveFiles.fileNames.dropLast() {
            try name.write(toFile: linked + "/" + name, atomically: true, encoding: .utf8)
        }
        try FileManager.default.createSymbolicLink(atPath: linked + "/privkey.pem", withDestinationPath: "/etc/passwd")
        try expectRefused(linked, saying: "not the four plain files")
        // An empty folder is not one sbs made.
        try FileManager.default.createDirectory(atPath: dir + "/empty", withIntermediateDirectories: true)
        try expectRefused(dir + "/empty", saying: "an empty folder")
    }

    @Test func aFileAtTheLivePathKeepsItsContent() throws {
        let out = temporaryFolder() + "/server.pem"
        try "my own certificate\n".write(toFile: out, atomically: true, encoding: .utf8)
        try expectRefused(out, saying: "it is a file")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "my own certificate\n")
    }

    @Test func aLinkSbsDidNotMakeIsRefused() throws {
        let dir = temporaryFolder()
        try FileManager.default.createDirectory(atPath: dir + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir + "/ssl", withDestinationPath: "elsewhere")
        try expectRefused(dir + "/ssl", saying: "a link sbs did not make (to elsewhere)")
        // A link into another path's archive is not this path's own either.
        let made = try material(["shop.example.com"])
        try LiveFiles.write(leafPEM: made.cert, chainPEMs: [], keyPEM: made.key, to: dir + "/a")
        try FileManager.default.createSymbolicLink(atPath: dir + "/b", withDestinationPath: ".a.versions/1")
        try expectRefused(dir + "/b", saying: "a link sbs did not make")
        // Its own link is replaced, also when its version is gone.
        try FileManager.default.removeItem(atPath: dir + "/.a.versions/1")
        try LiveFiles.write(leafPEM: made.cert, chainPEMs: [], keyPEM: made.key, to: dir + "/a")
        try LiveFiles.check(dir + "/a", covering: ["shop.example.com"])
    }

    @Test func aPathEndingInDotIsRefused() throws {
        let dir = temporaryFolder()
        for path in [dir + "/.", dir + "/..", dir + "/"] {
            #expect(throws: ACMEError.self) { try LiveFiles.checkReplaceable(path) }
        }
    }

    // Pruning removes only the four files sbs writes: what else is in an old version folder stays.
    @Test func pruningKeepsWhatSbsDidNotWrite() throws {
        let dir = temporaryFolder()
        let out = dir + "/out"
        try FileManager.default.createDirectory(atPath: dir + "/.out.versions/1", withIntermediateDirectories: true)
        try "important\n".write(toFile: dir + "/.out.versions/1/passwd", atomically: true, encoding: .utf8)
        for _ in 0..<4 {
            let made = try material(["shop.example.com"])
            try LiveFiles.write(leafPEM: made.cert, chainPEMs: [], keyPEM: made.key, to: out)
        }
        #expect(try String(contentsOfFile: dir + "/.out.versions/1/passwd", encoding: .utf8) == "important\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/.out.versions/2"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: out) == ".out.versions/5")
    }

    // The install's other modes write through the same code: a self-signed certificate does not replace a folder
    // of someone else's either.
    @Test func selfSignedAndProvidedFilesAreRefusedToo() throws {
        let live = temporaryFolder() + "/live/shop.example.com"
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try "mine\n".write(toFile: live + "/notes.txt", atomically: true, encoding: .utf8)
        #expect {
            try ProvidedCertificates.installSelfSigned(domains: ["shop.example.com"], liveDirectory: live)
        } throws: { error in
            (error as? ACMEError)?.message.contains("sbs will not replace \(live)") == true
        }
        #expect(snapshot(live) == ["notes.txt": "mine\n"])
        #expect(!FileManager.default.fileExists(atPath: (live as NSString).deletingLastPathComponent + "/../archive"))
    }
}
