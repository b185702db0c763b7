import Glibc

/// Runs blocking work (a read to end of file, waitpid, curl_easy_perform) on a thread of its own and waits for
/// it without holding a thread of the task pool. Not on Dispatch's global queues: they are as wide as the
/// machine has cores (two here), so a few blocked callers would stall every other user, timers included.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        detachThread { continuation.resume(returning: work()) }
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
            detachThread { slot.resume(with: .success(work())) }
        }
    } onCancel: {
        slot.resume(with: .failure(CancellationError()))
    }
}

/// A continuation resumed at most once, by whichever comes first.
private final class ContinuationSlot<T: Sendable>: @unchecked Sendable {
    private let lock = Lock()
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

/// Starts `body` on a new detached POSIX thread (the standard library has no thread type of its own on Linux).
public func detachThread(_ body: @escaping @Sendable () -> Void) {
    let box = Unmanaged.passRetained(ThreadBody(body)).toOpaque()
    var thread = pthread_t()
    let started = pthread_create(
        &thread, nil,
        { raw in
            guard let raw else { return nil }
            let body = Unmanaged<ThreadBody>.fromOpaque(raw).takeRetainedValue()
            body.run()
            return nil
        }, box)
    if started == 0 {
        pthread_detach(thread)
    } else {
        // No thread to be had (a resource limit): run the work here rather than lose it.
        Unmanaged<ThreadBody>.fromOpaque(box).takeRetainedValue().run()
    }
}

private final class ThreadBody: @unchecked Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// A mutual-exclusion lock for state shared with threads of `detachThread`.
public final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func lock() { pthread_mutex_lock(mutex) }
    public func unlock() { pthread_mutex_unlock(mutex) }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock()
        defer { unlock() }
        return try body()
    }
}
