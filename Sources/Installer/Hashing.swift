import Crypto
import Foundation

/// Incremental sha256 whose parts cannot run into each other (each part is length-prefixed).
struct SHA256Hasher {
    private var hasher = SHA256()

    mutating func update(_ text: String) { update(Data(text.utf8)) }

    mutating func update(_ data: Data) {
        var length = UInt64(data.count).bigEndian
        withUnsafeBytes(of: &length) { hasher.update(bufferPointer: $0) }
        hasher.update(data: data)
    }

    var hex: String { hasher.finalize().map { String(format: "%02x", $0) }.joined() }
}
