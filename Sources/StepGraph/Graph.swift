import SBSCore
import YAML

/// The validated step graph: unique ids, known needs, known actions, no cycles.
public struct Graph: Sendable {
    /// Steps in a stable topological order: a step comes after everything it needs; ties keep file-name order.
    public let steps: [StepDefinition]
    private let index: [String: Int]

    /// Builds the graph with actions that declare no condition facts (tests).
    public init(_ definitions: [StepDefinition], knownActions: Set<String>, baseFacts: Set<String> = [])
        throws(GraphError)
    {
        try self.init(definitions, catalog: ActionCatalog(names: knownActions, baseFacts: baseFacts))
    }

    /// Builds the graph, reporting every problem at once: duplicate ids, unknown actions or needs, cycles, and
    /// `when:` keys that are neither base facts nor declared outputs of a step named in its `needs:` (a typo there
    /// would otherwise skip the step silently; a step reached only through another is not read).
    /// - Throws: `GraphError` listing each problem with its file and line.
    public init(_ definitions: [StepDefinition], catalog: ActionCatalog) throws(GraphError) {
        let knownActions = Set(catalog.actions.keys)
        var problems: [String] = []
        var seen: [String: StepDefinition] = [:]
        let declared = Set(definitions.map(\.id))
        for step in definitions {
            if let first = seen[step.id] {
                problems.append(
                    "\(step.location("id")): duplicate step id '\(step.id)' (also declared in \(first.location("id")))")
            } else {
                seen[step.id] = step
            }
            if !knownActions.contains(step.action) {
                problems.append(
                    "\(step.location("action")): unknown action '\(step.action)' (known: \(knownActions.sorted().joined(separator: ", ")))"
                )
            }
            for need in step.needs where !declared.contains(need) {
                problems.append("\(step.location("needs")): step '\(step.id)' needs '\(need)', which no step declares")
            }
            if step.needs.contains(step.id) {
                problems.append("\(step.location("needs")): step '\(step.id)' needs itself")
            }
        }
        if !problems.isEmpty { throw GraphError(problems: problems) }

        // Kahn's algorithm. Among ready steps the shallowest (fewest steps before it) goes first, then by id, so
        // the order reads like the install and does not depend on file order.
        var remaining = definitions
        var ordered: [StepDefinition] = []
        var depth: [String: Int] = [:]
        while !remaining.isEmpty {
            let ready = remaining.indices.filter { remaining[$0].needs.allSatisfy { depth[$0] != nil } }
            guard !ready.isEmpty else {
                let cycle = Graph.findCycle(in: remaining)
                throw GraphError(problems: [
                    "the steps form a cycle: \(cycle.joined(separator: " → ")) (files: \(remaining.filter { cycle.contains($0.id) }.map(\.file).sorted().joined(separator: ", ")))"
                ])
            }
            func level(_ step: StepDefinition) -> Int { (step.needs.compactMap { depth[$0] }.max() ?? -1) + 1 }
            let next =
                ready.min { a, b in
                    (level(remaining[a]), remaining[a].id) < (level(remaining[b]), remaining[b].id)
                } ?? ready[0]
            let step = remaining.remove(at: next)
            depth[step.id] = level(step)
            ordered.append(step)
        }
        steps = ordered
        index = Dictionary(uniqueKeysWithValues: ordered.enumerated().map { ($1.id, $0) })
        for step in ordered {
            guard let when = step.when else { continue }
            for key in when.keys where !catalog.baseFacts.contains(key) {
                if let problem = whenProblem(key, in: step, catalog: catalog) {
                    problems.append("\(step.location("when")): \(problem)")
                }
            }
        }
        if !problems.isEmpty { throw GraphError(problems: problems) }
    }

    /// Why `key` cannot be a fact for `step`'s condition, or nil when it can.
    func whenProblem(_ key: String, in step: StepDefinition, catalog: ActionCatalog) -> String? {
        let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
        let needed = Set(step.needs)
        if parts.count == 2, let source = self[parts[0]] {
            guard needed.contains(source.id) else {
                let through = step.needs.filter { closure(of: $0).contains(source.id) }
                let reach =
                    through.isEmpty
                    ? "does not need '\(source.id)'"
                    : "needs '\(source.id)' only through '\(through.joined(separator: "', '"))'"
                return
                    "when names '\(key)', but step '\(step.id)' \(reach); a step reads only the steps its needs name (add '\(source.id)' to needs)"
            }
            let declared = catalog.actions[source.action] ?? []
            if declared.contains(parts[1]) { return nil }
            let near =
                YAMLReader.nearest(parts[1], in: declared.sorted()).map { " (did you mean '\(source.id).\($0)'?)" }
                ?? " (it declares: \(declared.sorted().joined(separator: ", ")))"
            return "when names '\(key)', which '\(source.id)' does not output\(near)"
        }
        let candidates =
            catalog.baseFacts.sorted()
            + needed.sorted().flatMap { id in
                (catalog.actions[self[id]?.action ?? ""] ?? []).sorted().map { "\(id).\($0)" }
            }
        let near = YAMLReader.nearest(key, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
        return "when names '\(key)', which is neither an answer nor an output of a step it needs\(near)"
    }

    public subscript(id: String) -> StepDefinition? {
        index[id].map { steps[$0] }
    }

    public var ids: [String] { steps.map(\.id) }

    /// Checks that the scope names existing steps.
    /// - Throws: `UserError` naming the unknown id and the known ones.
    public func validate(_ scope: RunScope) throws(UserError) {
        for id in [scope.through, scope.from].compactMap({ $0 }) + scope.skip where self[id] == nil {
            throw UserError("There is no step '\(id)'.", remedy: "Steps: \(ids.joined(separator: ", ")).")
        }
    }

    /// The needs of `step` that order it: those no other of its needs reaches. A need also reached through
    /// another (named to read its output) moves the step nowhere, so it changes neither order nor fingerprint.
    public func orderingNeeds(of step: StepDefinition) -> [String] {
        step.needs.filter { need in
            !step.needs.contains { other in other != need && closure(of: other).contains(need) }
        }
    }

    /// `id` and everything it needs, transitively.
    public func closure(of id: String) -> Set<String> {
        var result = Set<String>()
        var stack = [id]
        while let next = stack.popLast() {
            guard result.insert(next).inserted, let step = self[next] else { continue }
            stack.append(contentsOf: step.needs)
        }
        return result
    }

    /// `id` and every step that needs it, transitively.
    public func dependents(of id: String) -> Set<String> {
        var result: Set<String> = [id]
        for step in steps where step.needs.contains(where: result.contains) {
            result.insert(step.id)
        }
        return result
    }

    static func findCycle(in steps: [StepDefinition]) -> [String] {
        let byId = Dictionary(steps.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        guard var current = steps.first?.id else { return [] }
        var path: [String] = []
        // Every remaining step has an unmet need among the remaining ones, so walking needs must revisit a step.
        while !path.contains(current) {
            path.append(current)
            guard let next = byId[current]?.needs.first(where: { byId[$0] != nil }) else { return path }
            current = next
        }
        let start = path.firstIndex(of: current) ?? 0
        return Array(path[start...]) + [current]
    }
}

/// Everything wrong with a step graph, each line naming its file.
public struct GraphError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public var description: String {
        "The step graph is invalid:\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

/// Reads step files (`steps/*.yaml`).
public enum StepLoader {
    static let fields = ["id", "title", "needs", "action", "when", "retry", "timeout"]

    /// Parses and validates every step file; `files` maps a path (for messages) to its text.
    /// - Throws: `GraphError` with every problem of every file, each with file, line and column.
    public static func load(_ files: [String: String], knownActions: Set<String>, baseFacts: Set<String> = [])
        throws(GraphError) -> Graph
    {
        try load(files, catalog: ActionCatalog(names: knownActions, baseFacts: baseFacts))
    }

    /// Parses and validates every step file against the actions' declarations.
    /// - Throws: `GraphError` with every problem of every file, each with file, line and column.
    public static func load(_ files: [String: String], catalog: ActionCatalog) throws(GraphError) -> Graph {
        var definitions: [StepDefinition] = []
        var problems: [String] = []
        for (path, text) in files.sorted(by: { $0.key < $1.key }) {
            let reader = YAMLReader(file: path)
            if let node = reader.parse(text), let step = definition(node, reader: reader, path: path),
                reader.problems.isEmpty
            {
                definitions.append(step)
            }
            problems += reader.problems.map(\.description)
        }
        if !problems.isEmpty { throw GraphError(problems: problems) }
        return try Graph(definitions, catalog: catalog)
    }

    static func definition(_ node: YAMLNode, reader: YAMLReader, path: String) -> StepDefinition? {
        let map = reader.mapping(node, path: "", allowed: fields)
        guard case .mapping = node else { return nil }
        func required(_ key: String) -> String? {
            guard let value = map[key] else {
                reader.report(node, "missing required field '\(key)'")
                return nil
            }
            return reader.string(value, path: key)
        }
        let id = required("id")
        let title = required("title")
        let action = required("action")
        if let id, let idNode = map["id"] {
            let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
            if id.isEmpty || !id.allSatisfy({ allowed.contains($0) }) {
                reader.report(idNode, "step id '\(id)' may hold only lower-case letters, digits and '-'")
            }
            let expected = AtomicFile.baseName(of: path).replacing(".yaml", with: "")
            if expected != id {
                reader.report(idNode, "step id '\(id)' does not match its file name (\(expected).yaml)")
            }
        }
        let needs = map["needs"].map { reader.strings($0, path: "needs").map(\.0) } ?? []
        var when: Condition?
        if let whenNode = map["when"], let text = reader.string(whenNode, path: "when") {
            do { when = try Condition(parsing: text) } catch { reader.report(whenNode, "when: \(error.message)") }
        }
        var retry = RetryPolicy.none
        if let retryNode = map["retry"] {
            let fields = reader.mapping(retryNode, path: "retry", allowed: ["attempts", "delay"])
            if let attempts = fields["attempts"].flatMap({ reader.int($0, path: "retry.attempts") }) {
                if (1...20).contains(attempts) {
                    retry.attempts = attempts
                } else {
                    reader.report(fields["attempts"], "retry.attempts must be from 1 to 20")
                }
            }
            if let delayNode = fields["delay"], let text = reader.string(delayNode, path: "retry.delay") {
                if let delay = parseDuration(text) {
                    retry.delay = delay
                } else {
                    reader.report(delayNode, "retry.delay '\(text)' is not a duration such as 5s or 1m")
                }
            }
        }
        var timeout: Duration?
        if let timeoutNode = map["timeout"], let text = reader.string(timeoutNode, path: "timeout") {
            if let value = parseDuration(text), value > .zero {
                timeout = value
            } else {
                reader.report(timeoutNode, "timeout '\(text)' is not a duration such as 30s or 10m")
            }
        }
        guard let id, let title, let action else { return nil }
        var lines: [String: Int] = [:]
        for (key, value) in map { lines[key] = value.mark.line }
        return StepDefinition(
            id: id, title: title, needs: needs, action: action, when: when, retry: retry,
            timeout: timeout, file: path, lines: lines)
    }
}
