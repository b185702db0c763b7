import Deploy
import FoundationEssentials
import HTTPClient
import Host
import Processes
import SBSCore
import StepGraph
import Synchronization

/// `pull-models`: the profile's Ollama models, through Ollama's HTTP API: `GET /api/tags` lists what is there
/// (those are skipped), `POST /api/pull` streams NDJSON progress, shown as a bar per layer in 10 % steps. Ollama
/// publishes no port: sbs reaches the container on the stack's outbound network (`egress`), whose address the
/// host can reach. Only runs when the profile runs Ollama (`when:` in steps/pull-models.yaml).
struct PullModels: StepAction {
    static let name = "pull-models"
    let tools: InstallTools
    /// Where Ollama listens in its container (tests point it at a scripted server).
    var ollamaPort = 11434

    struct Input: Codable, Hashable, Sendable {
        var project: ComposeProject
        var models: [String]
        var stack: StartStack.Output
    }

    struct Output: Codable, Hashable, Sendable {
        var models: [String]
    }

    func input(_ context: InstallInputs, needs: NeededOutputs) throws -> Input {
        Input(
            project: context.project, models: try needs.output(of: ChooseProfile.self).ollamaModels,
            stack: try needs.output(of: StartStack.self))
    }

    func run(_ input: Input, log: StepLog) async throws -> StepResult<Output> {
        guard !input.models.isEmpty else {
            log.progress("the profile names no model to pull")
            return StepResult(Output(models: []))
        }
        let base = "http://\(try await address(input.project)):\(ollamaPort)"
        let http = CurlTransport(
            options: HTTPOptions(connectTimeout: .seconds(10), timeout: .seconds(7200), userAgent: "sbs"))
        let present = try await tags(http, base)
        let missing = OllamaModels.missing(input.models, present: present)
        let kept = input.models.filter { !missing.contains($0) }
        if !kept.isEmpty { log.progress("already present: \(kept.joined(separator: ", "))") }
        for model in missing {
            try await pull(model, http: http, base: base, log: log)
        }
        let after = try await tags(http, base)
        let stillMissing = OllamaModels.missing(input.models, present: after)
        guard stillMissing.isEmpty else {
            throw UserError(
                "Ollama reported the pull of \(stillMissing.joined(separator: ", ")) done, but does not list it.",
                remedy: "Check `docker compose logs ollama`.")
        }
        log.progress("models present: \(input.models.joined(separator: ", "))")
        return StepResult(Output(models: input.models.sorted()))
    }

    /// The Ollama container's address on the project's `egress` network.
    func address(_ project: ComposeProject) async throws(UserError) -> String {
        guard
            let container = try await project.containers(tools.commands).first(where: {
                $0.service == "ollama" && $0.state == "running"
            })
        else {
            throw UserError(
                "The ollama service is not running.",
                remedy:
                    "start-stack starts it again on the next run; `docker compose logs ollama` shows why it stopped.")
        }
        let result = try await tools.commands.run(
            ["docker", "inspect", "--format", "{{json .NetworkSettings.Networks}}", container.name],
            timeout: .seconds(20))
        struct Network: Decodable { var IPAddress: String? }
        guard result.status == 0,
            let networks = try? JSONDecoder().decode([String: Network].self, from: Data(result.stdout.utf8)),
            let address = networks[project.name + "_egress"]?.IPAddress, !address.isEmpty
        else {
            throw UserError(
                "sbs cannot find the address of \(container.name) on the network \(project.name)_egress: \(result.stderr.lastLines(2))",
                remedy:
                    "Check `docker inspect \(container.name)`; `sbs install --from start-stack` recreates the stack's networks."
            )
        }
        return address
    }

    func tags(_ http: CurlTransport, _ base: String) async throws -> Set<String> {
        let response: HTTPResponse
        do { response = try await http.send(HTTPRequest(method: .get, url: base + "/api/tags")) } catch let error
            as HTTPTransportError
        {
            throw UserError(
                "Ollama does not answer at \(base): \(error.detail)",
                remedy: "Check `docker compose logs ollama`.")
        }
        guard response.status == 200 else {
            throw UserError(
                "Ollama answered /api/tags with HTTP \(response.status).",
                remedy: "Check `docker compose logs ollama`.")
        }
        return try OllamaModels.names(inTags: response.body)
    }

    func pull(_ model: String, http: CurlTransport, base: String, log: StepLog) async throws {
        log.progress("pulling \(model)")
        struct PullRequest: Encodable {
            let model: String
            let stream = true
        }
        let body = try JSONEncoder().encode(PullRequest(model: model))
        let state = Mutex<
            (stream: OllamaModels.PullStream, reporter: OllamaModels.ProgressReporter, error: String?, success: Bool)
        >(
            (OllamaModels.PullStream(), OllamaModels.ProgressReporter(), nil, false))
        let response: HTTPResponse
        do {
            response = try await http.stream(
                HTTPRequest(
                    method: .post, url: base + "/api/pull", headers: [("Content-Type", "application/json")],
                    body: Array(body))
            ) { bytes in
                let lines: [String] = state.withLock { state in
                    var lines: [String] = []
                    for event in state.stream.feed(bytes) {
                        if let error = event.error { state.error = error }
                        if event.status == "success" { state.success = true }
                        if let line = state.reporter.line(for: event, model: model) { lines.append(line) }
                    }
                    return lines
                }
                for line in lines { log.progress(line) }
                return true
            }
        } catch let error as HTTPTransportError {
            throw UserError(
                "Pulling \(model) from Ollama failed: \(error.detail)",
                remedy:
                    "Check the network and `docker compose logs ollama` (what was downloaded is kept)."
            )
        }
        let (error, success) = state.withLock { ($0.error, $0.success) }
        if let error {
            throw UserError(
                "Ollama could not pull \(model): \(error)",
                remedy: "Check the model name in assets/profiles.yaml and the network.")
        }
        guard response.status == 200, success else {
            throw UserError(
                "Ollama did not finish pulling \(model) (HTTP \(response.status)).",
                remedy: "The next run continues the download where it stopped.")
        }
    }
}
