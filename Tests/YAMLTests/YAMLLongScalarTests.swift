import Processes
import Testing
import YAML

/// Values of 2 MiB in each scalar style read whole and exactly, with a blank or a line break every other
/// character: the reader's time grows with a value's length, not with its square (it once appended each blank and
/// line break by copying the value read so far: 4 s for 1 MiB of words, 108 s for 4 MiB). No timing is asserted
/// beyond the suite's limit, which such a reader does not meet on these values (a million blanks, each a copy of up
/// to 2 MiB); bench/yaml measures the time. One at a time: each keeps a core busy for a second or two.
@Suite(.serialized, .timeLimit(.minutes(1))) struct YAMLLongScalarTests {
    static let size = 2 << 20

    /// `count` bytes of one-letter words, one space between them, none at either end.
    static func words(_ count: Int) -> String {
        var text = String.UnicodeScalarView()
        let letters = Array("abcdefghijklmnopqrstuvwxyz0123456789".unicodeScalars)
        for index in 0..<count {
            text.append(index % 2 == 1 && index != count - 1 ? " " : letters[index % 31])
        }
        return String(text)
    }

    /// `count` bytes of text as lines of `width` (the last shorter): each its number, then words of eight letters
    /// with one space between them, none at either end.
    static func lines(_ count: Int, width: Int) -> [String] {
        let filler = String(repeating: " abcdefgh", count: width / 9 + 1)
        return stride(from: 0, to: count, by: width).map { start in
            let number = String(start / width, radix: 16)
            let line = number + filler.prefix(max(0, min(width, count - start) - number.count))
            return line.hasSuffix(" ") ? String(line.dropLast()) + "x" : line
        }
    }

    /// The scalar of `key`, parsed on a thread of its own (seconds of work that would hold a task-pool thread).
    func value(_ document: String, _ key: String = "value") async throws -> YAMLScalar {
        // Left to finish on its own when the test is cancelled (past the suite's time limit).
        let parsed = try await onOwnThreadUnlessCancelled {
            Result { () throws(YAMLSyntaxError) in try YAMLNode.parse(document) }
        }
        return try #require(try parsed.get()?.mapping?[key]?.scalar)
    }

    @Test func aLongValueOnOneLine() async throws {
        let text = Self.words(Self.size)
        let plain = try await value("before: 1\nvalue: \(text)\nafter: 2\n")
        #expect(plain.string.utf8.count == Self.size)
        #expect(plain.string == text)
        let quoted = try await value("value: \"\(text)\"\n")
        #expect(quoted.string == text && quoted.style == .doubleQuoted)
    }

    @Test func aLongValueFoldedOverLines() async throws {
        // Lines of words indented below the key, every other gap an empty line: one line break reads as a space,
        // two as a newline.
        let lines = Self.lines(Self.size, width: 16)
        var written = ""
        var expected = ""
        for (index, line) in lines.enumerated() {
            let last = index == lines.count - 1
            written += line + (last ? "" : index % 2 == 1 ? "\n\n  " : "\n  ")
            expected += line + (last ? "" : index % 2 == 1 ? "\n" : " ")
        }
        let plain = try await value("value: " + written + "\nafter: 2\n")
        #expect(plain.string.utf8.count == expected.utf8.count)
        #expect(plain.string == expected)
        let quoted = try await value("value: \"" + written + "\"\n")
        #expect(quoted.string == expected && quoted.style == .doubleQuoted)
        let block = try await value("value: >\n  " + written + "\n")
        #expect(block.string == expected + "\n" && block.style == .folded)
    }
}
