import SBSCore
import Testing

/// The text helpers that stand in for Foundation's formatting (String(format:), trimmingCharacters, padding).
@Suite struct TextHelpers {
    @Test func hexIsTwoLowerCaseDigitsAByte() {
        #expect([UInt8]([0x00, 0x0f, 0xab, 0xff]).hex == "000fabff")
        #expect([UInt8]().hex == "")
    }

    @Test func decimalRoundsHalfAwayFromZeroWithTheGivenDigits() {
        #expect(decimal(2.25) == "2.3")
        #expect(decimal(0.04) == "0.0")
        #expect(decimal(-0.04) == "0.0")
        #expect(decimal(-1.25) == "-1.3")
        #expect(decimal(12.0) == "12.0")
        #expect(decimal(1.05, digits: 2) == "1.05")
        #expect(decimal(0.5, digits: 0) == "1")
        #expect(decimal(.infinity) == "inf")
    }

    @Test func trimmingAndPadding() {
        #expect(" \t a b \r\n".trimmed == "a b")
        #expect(" \n ".trimmed == "")
        #expect("ab".padded(to: 4) == "ab  ")
        #expect("abcde".padded(to: 2) == "abcde")
        #expect("7".leftPadded(to: 2) == " 7")
    }

    @Test func durationsInSeconds() {
        #expect(Duration.milliseconds(1500).seconds == 1.5)
        #expect(Duration.seconds(3).seconds == 3)
    }
}
