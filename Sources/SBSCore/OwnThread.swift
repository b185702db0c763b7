import Foundation

/// Runs blocking work (a read to end of file, waitpid, curl_easy_perform) on a thread of its own and waits for
/// it without holding a thread of the task pool. Not on Dispatch's global queues: they are as wide as the
/// machine has cores (two here), so a few blocked callers would stall every other user, timers included.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}
