import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Render

/// `secrets.env` read as the bytes it holds: LF or CRLF line ends, UTF-8 or refused, and a value written back is
/// byte for byte the value read.
@Suite("secrets.env round trip")
struct SecretsFileRoundTripTests {
    @Test func crlfLineEndsAreLineEnds() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/secrets.env"
        try Data(
            "# saved on Windows\r\nPOSTGRES_PASSWORD=abcdefgh12345678\r\nJWT_SECRET=0123456789abcdef0123456789abcdef\r\n"
                .utf8
        )
        .write(to: URL(fileURLWithPath: path))
        let secrets = try SecretsFile(path: path).load()
        #expect(secrets.names.map(\.value) == ["POSTGRES_PASSWORD", "JWT_SECRET"])
        #expect(secrets[.postgresPassword] == "abcdefgh12345678")
    }

    @Test func aLineThatIsNotUTF8IsRefusedWithItsNumber() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/secrets.env"
        try Data(
            Array("# one\nPOSTGRES_PASSWORD=abcdefgh12345678\nGRAFANA_ADMIN_PASSWORD=caf".utf8) + [0xE9]
                + Array("12345678\n".utf8)
        )
        .write(to: URL(fileURLWithPath: path))
        #expect { try SecretsFile(path: path).load() } throws: { error in
            (error as? UserError)?.message == "Line 3 of \(path) is not UTF-8 text."
        }
    }

    @Test func aValueIsTheBytesAfterTheFirstEqualsSign() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/secrets.env"
        // "=" followed by a combining mark is one Character; the value still starts right after the '='.
        let value = "\u{301}e\u{301}t\u{E9}-value-1234"
        try Data(("POSTGRES_PASSWORD=" + value + "\n").utf8).write(to: URL(fileURLWithPath: path))
        let secrets = try SecretsFile(path: path).load()
        #expect(secrets[.postgresPassword].map { Array($0.utf8) } == Array(value.utf8))
        // A canonically equal value with other bytes is a different secret and is stored.
        let file = SecretsFile(path: path)
        let composed = "\u{301}\u{E9}t\u{E9}-value-1234"
        #expect(composed == value && Array(composed.utf8) != Array(value.utf8))
        try file.set(.postgresPassword, to: composed)
        #expect(try file.load()[.postgresPassword].map { Array($0.utf8) } == Array(composed.utf8))
    }

    /// Generated files of comments, blank lines and NAME=value lines with LF or CRLF ends and values drawn from
    /// ASCII, multi-byte UTF-8, combining marks and bytes that are not UTF-8: each file is either refused, or every
    /// value read is the bytes of its line, and writing and reading again gives the same bytes.
    @Test func generatedFilesReadAsTheirBytesOrAreRefused() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/secrets.env"
        let names = [
            "POSTGRES_PASSWORD", "JWT_SECRET", "GRAFANA_ADMIN_PASSWORD", "ANTHROPIC_API_KEY", "OPENAI_API_KEY",
            "SMTP_PASSWORD",
        ]
        let pieces: [[UInt8]] = [
            Array("abc".utf8), Array("XYZ09".utf8), Array("-_.+/".utf8), Array("=".utf8), Array(" ".utf8),
            Array("#".utf8),
            Array("é".utf8), Array("e\u{301}".utf8), Array("\u{301}".utf8), Array("€".utf8), Array("😀".utf8),
            Array("\u{200D}".utf8),
            [0xE9], [0xFF], [0xC3], [0x80], [0x0D], [0x09],
        ]
        var accepted = 0
        var refused = 0
        for seed in UInt64(1)...400 {
            var random = SeededGenerator(seed: seed)
            var file: [UInt8] = []
            var expected: [(String, [UInt8])] = []
            var used = Set<String>()
            for _ in 0..<Int.random(in: 1...6, using: &random) {
                switch Int.random(in: 0..<5, using: &random) {
                case 0: file += Array("# a comment é".utf8)
                case 1: break
                default:
                    guard let name = names.filter({ !used.contains($0) }).randomElement(using: &random) else {
                        continue
                    }
                    used.insert(name)
                    var value: [UInt8] = Array("seed\(seed)".utf8)
                    for _ in 0..<Int.random(in: 1...8, using: &random) {
                        value += pieces.randomElement(using: &random)!
                    }
                    file += Array(name.utf8) + [UInt8(ascii: "=")] + value
                    // A CR just before the line end is part of the line end (CRLF), not of the value.
                    expected.append((name, value.last == 13 ? Array(value.dropLast()) : value))
                }
                file += Bool.random(using: &random) ? [13, 10] : [10]
            }
            try Data(file).write(to: URL(fileURLWithPath: path))
            let loaded: Secrets
            do { loaded = try SecretsFile(path: path).load() } catch {
                refused += 1
                continue
            }
            accepted += 1
            #expect(loaded.names.map(\.value) == expected.map(\.0), "seed \(seed)")
            for (name, bytes) in expected {
                #expect(loaded[try SecretName(name)].map { Array($0.utf8) } == bytes, "seed \(seed): \(name)")
            }
            try SecretsFile(path: path).save(loaded)
            let written = try #require(FileManager.default.contents(atPath: path))
            for (name, bytes) in expected {
                let line = Data(Array(name.utf8) + [UInt8(ascii: "=")] + bytes + [10])
                #expect(written.range(of: line) != nil, "seed \(seed): \(name) written back as other bytes")
            }
            #expect(try SecretsFile(path: path).load() == loaded, "seed \(seed)")
        }
        #expect(accepted > 50 && refused > 50, "accepted \(accepted), refused \(refused)")
    }
}
