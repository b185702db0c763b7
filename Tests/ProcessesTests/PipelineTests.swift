import Foundation
import SBSCore
import TestSupport
import Testing

@testable import Processes

/// `producer | consumer` with each side's own exit status: what `pg_dump | restic backup --stdin` runs on.
@Suite struct Pipelines {
    // 50 MB pass from one program to the other; sbs keeps none of it (only what each side prints itself).
    @Test(.timeLimit(.minutes(1)))
    func theDataStreamsFromTheProducerToTheConsumer() async throws {
        let result = try await SystemCommandRunner().runPipeline(
            ["head", "-c", "50000000", "/dev/zero"], into: ["wc", "-c"], timeout: .seconds(50))
        #expect(result.producer.status == 0)
        #expect(result.producer.stdout == "")
        #expect(result.consumer.status == 0)
        #expect(result.consumer.stdout.trimmed == "50000000")
    }

    // What a shell without pipefail loses: the producer failed after part of its output, the consumer took what
    // came and succeeded. Both statuses are there.
    @Test(.timeLimit(.minutes(1)))
    func aFailingProducerIsSeenThoughTheConsumerSucceeded() async throws {
        let result = try await SystemCommandRunner().runPipeline(
            ["sh", "-c", "printf partial; echo 'connection refused' >&2; exit 3"], into: ["wc", "-c"],
            timeout: .seconds(30))
        #expect(result.producer.status == 3)
        #expect(result.producer.stderr == "connection refused\n")
        #expect(result.consumer.status == 0)
        #expect(result.consumer.stdout.trimmed == "7")
    }

    // A consumer that gives up ends the producer (SIGPIPE, its default again in the child): no hang.
    @Test(.timeLimit(.minutes(1)))
    func aConsumerThatStopsEndsTheProducer() async throws {
        let result = try await SystemCommandRunner().runPipeline(
            ["yes"], into: ["sh", "-c", "head -c 10 >/dev/null; exit 4"], timeout: .seconds(30))
        #expect(result.consumer.status == 4)
        // Killed by SIGPIPE, or exiting on EPIPE (GNU yes reports the write error and exits 1).
        #expect(result.producer.status == 128 + SIGPIPE || result.producer.status == 1)
    }

    @Test(.timeLimit(.minutes(1)))
    func pastTheTimeoutBothAreStopped() async throws {
        let result = try await SystemCommandRunner().runPipeline(
            ["sleep", "300"], into: ["cat"], timeout: .seconds(1))
        #expect(result.producer.timedOut)
        #expect(result.producer.status == 128 + SIGTERM)
    }

    @Test func aMissingProgramIsAnErrorAndNothingRuns() async throws {
        await #expect(throws: UserError.self) {
            try await SystemCommandRunner().runPipeline(["no-such-program-sbs"], into: ["cat"], timeout: .seconds(5))
        }
        await #expect(throws: UserError.self) {
            try await SystemCommandRunner().runPipeline(["echo"], into: ["no-such-program-sbs"], timeout: .seconds(5))
        }
    }
}
