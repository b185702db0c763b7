import ACME
import Foundation
import Synchronization

/// A clock whose sleeps return at once (after checking for cancellation), so waiting loops and retry delays are
/// tested without waiting. Its `now` never moves.
public struct ImmediateClock: Clock {
    public typealias Duration = Swift.Duration

    public struct Instant: InstantProtocol {
        public var offset: Swift.Duration
        public init(offset: Swift.Duration) { self.offset = offset }
        public func advanced(by duration: Swift.Duration) -> Instant { Instant(offset: offset + duration) }
        public func duration(to other: Instant) -> Swift.Duration { other.offset - offset }
        public static func < (a: Instant, b: Instant) -> Bool { a.offset < b.offset }
    }

    public init() {}

    public var now: Instant { Instant(offset: .zero) }
    public var minimumResolution: Swift.Duration { .zero }
    public func sleep(until deadline: Instant, tolerance: Swift.Duration?) async throws {
        try Task.checkCancellation()
        await Task.yield()
    }
}

/// An ACME clock that never sleeps: it records each requested wait and moves `now` forward by it.
public final class TestClock: ACMEClock {
    private let state: Mutex<(now: Date, sleeps: [Duration])>

    public init(now: Date = Date(timeIntervalSince1970: 1_750_000_000)) {
        state = Mutex((now, []))
    }

    public var now: Date { state.withLock { $0.now } }
    /// Every wait asked for, in order.
    public var sleeps: [Duration] { state.withLock { $0.sleeps } }

    public func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        let (seconds, attoseconds) = duration.components
        state.withLock {
            $0.sleeps.append(duration)
            $0.now = $0.now.addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
        }
    }
}
