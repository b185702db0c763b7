@testable import ACME
import Foundation
import Testing

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
        #expect(try FileManager.default.contentsOfDirectory(atPath: ssl + "/archive/shop.example.com").sorted() == ["4", "5", "6"])
    }

    @Test func aLiveFolderFromBeforeVersionsIsMovedIntoTheArchive() throws {
        let ssl = temporaryFolder()
        let live = ssl + "/live/shop.example.com"
        let old = try material(["shop.example.com"])
        try FileManager.default.createDirectory(atPath: live, withIntermediateDirectories: true)
        try old.cert.write(toFile: live + "/cert.pem", atomically: true, encoding: .utf8)
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
        var mismatches = 0, reads = 0
        for _ in 0..<5000 where reads < 300 {
            // Resolved once; a live path that is a plain folder (files replaced in place) is read as it is.
            let folder = (try? FileManager.default.destinationOfSymbolicLink(atPath: live))
                .map { (live as NSString).deletingLastPathComponent + "/" + $0 } ?? live
            guard let cert = try? String(contentsOfFile: folder + "/cert.pem", encoding: .utf8),
                  let key = try? String(contentsOfFile: folder + "/privkey.pem", encoding: .utf8) else { continue }
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
        let a = try material(["shop.example.com"]), b = try material(["shop.example.com"])
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
}
