import Foundation

/// Runs blocking work (a read to end of file, waitpid, curl_easy_perform) on a thread of its own and waits for
/// it without holding a thread of the task pool. Not on Dispatch's global queues: they are as wide as the
/// machine has cores (two here), so a few blocked callers would stall every other user, timers included.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}

/// Like `onOwnThread`, for blocking calls that cannot be interrupted (`getaddrinfo` against a dead resolver): when
/// the task is cancelled (Ctrl-C), the caller goes on at once with `CancellationError` and the thread finishes on
/// its own, its result dropped.
/// - Throws: `CancellationError` when the task is cancelled before `work` returns.
public func onOwnThreadUnlessCancelled<T: Sendable>(_ work: @escaping @Sendable () -> T) async throws -> T {
    let slot = ContinuationSlot<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            slot.set(continuation)
            if Task.isCancelled { slot.resume(with: .failure(CancellationError())) }
            Thread.detachNewThread { slot.resume(with: .success(work())) }
        }
    } onCancel: {
        slot.resume(with: .failure(CancellationError()))
    }
}

/// A continuation resumed at most once, by whichever comes first.
private final class ContinuationSlot<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<T, any Error>?
    private var early: Result<T, any Error>?

    func set(_ continuation: CheckedContinuation<T, any Error>) {
        lock.lock()
        if let early {
            lock.unlock()
            continuation.resume(with: early)
            return
        }
        self.continuation = continuation
        lock.unlock()
    }

    func resume(with result: Result<T, any Error>) {
        lock.lock()
        guard let continuation else {
            if early == nil { early = result }
            lock.unlock()
            return
        }
        self.continuation = nil
        early = .failure(CancellationError())  // resumed: later results are dropped
        lock.unlock()
        continuation.resume(with: result)
    }
}
