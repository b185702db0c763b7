import CCurl
import Dispatch
import FoundationEssentials
import Processes
import SBSCore
import Synchronization

/// One HTTP request as the ACME client needs it.
public struct HTTPRequest: Sendable, Equatable {
    public enum Method: String, Sendable { case get = "GET", head = "HEAD", post = "POST" }

    public var method: Method
    public var url: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: Method, url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.url == rhs.url && lhs.body == rhs.body
            && lhs.headers.map { "\($0.name): \($0.value)" } == rhs.headers.map { "\($0.name): \($0.value)" }
    }
}

/// One HTTP response: status, every header (names lower-cased, repeated names kept) and the body.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The certificates the server presented, PEM, leaf first (only with `HTTPOptions.certificateChain`, and only
    /// over HTTPS).
    public var certificates: [String]
    /// The protocol and cipher the TLS handshake agreed on (only with `HTTPOptions.certificateChain`, and only over
    /// HTTPS).
    public var tls: TLSSession?

    public init(
        status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = [], certificates: [String] = [],
        tls: TLSSession? = nil
    ) {
        self.status = status
        self.headers = headers.map { (name: $0.name.lowercased(), value: $0.value) }
        self.body = body
        self.certificates = certificates
        self.tls = tls
    }

    /// The first value of header `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        let lower = name.lowercased()
        return headers.first { $0.name == lower }?.value
    }

    /// Every value of header `name` (case-insensitive), in arrival order.
    public func headers(named name: String) -> [String] {
        let lower = name.lowercased()
        return headers.filter { $0.name == lower }.map(\.value)
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// What a TLS handshake agreed on, as the TLS library names it.
public struct TLSSession: Sendable, Hashable {
    /// `TLSv1.3`, `TLSv1.2` …
    public var version: String
    /// `TLS_AES_256_GCM_SHA384`, `ECDHE-ECDSA-AES128-GCM-SHA256` …
    public var cipher: String

    public init(version: String, cipher: String) {
        self.version = version
        self.cipher = cipher
    }

    /// Reads libcurl's `SSL connection using VERSION / CIPHER[ / …]` line; nil for any other line.
    init?(curlLine line: String) {
        let prefix = "SSL connection using "
        guard line.hasPrefix(prefix) else { return nil }
        let parts = line.dropFirst(prefix.count).split(separator: "/").map { $0.trimmed }
        guard parts.count >= 2, !parts[0].isEmpty else { return nil }
        self.init(version: parts[0], cipher: parts[1])
    }
}

/// A TLS protocol version a connection may use.
public enum TLSVersion: Int, Sendable, Comparable, CaseIterable {
    case tls1_0, tls1_1, tls1_2, tls1_3

    public static func < (a: TLSVersion, b: TLSVersion) -> Bool { a.rawValue < b.rawValue }

    /// `TLS 1.0` …
    public var name: String { "TLS 1.\(rawValue)" }

    /// libcurl's CURL_SSLVERSION_TLSv1_x.
    var curlMinimum: Int {
        switch self {
        case .tls1_0: return Int(CURL_SSLVERSION_TLSv1_0)
        case .tls1_1: return Int(CURL_SSLVERSION_TLSv1_1)
        case .tls1_2: return Int(CURL_SSLVERSION_TLSv1_2)
        case .tls1_3: return Int(CURL_SSLVERSION_TLSv1_3)
        }
    }

    /// libcurl's CURL_SSLVERSION_MAX_TLSv1_x.
    var curlMaximum: Int {
        switch self {
        case .tls1_0: return Int(CURL_SSLVERSION_MAX_TLSv1_0)
        case .tls1_1: return Int(CURL_SSLVERSION_MAX_TLSv1_1)
        case .tls1_2: return Int(CURL_SSLVERSION_MAX_TLSv1_2)
        case .tls1_3: return Int(CURL_SSLVERSION_MAX_TLSv1_3)
        }
    }
}

/// Why no HTTP response arrived.
public struct HTTPTransportError: Error, Sendable, CustomStringConvertible {
    /// `tooLarge`: the response went past `HTTPOptions.maxResponseBytes` and was cut off.
    public enum Kind: Sendable, Equatable { case dns, connect, tls, timeout, tooLarge, other }
    public var kind: Kind
    public var url: String
    /// The transport's own words (libcurl's error buffer).
    public var detail: String

    public init(kind: Kind, url: String, detail: String) {
        self.kind = kind
        self.url = url
        self.detail = detail
    }

    public var description: String { "\(url): \(detail)" }
}

/// The seam through which every HTTP exchange goes. The real implementation is `CurlTransport`.
public protocol HTTPTransport: Sendable {
    /// Sends `request` and returns the response, whatever its status.
    /// - Throws: `HTTPTransportError` when no response arrived (name resolution, connect, TLS handshake — an
    ///   untrusted CA included —, timeout, `tooLarge`), and `CancellationError` when the task was cancelled (before
    ///   sending, or while waiting for the answer).
    func send(_ request: HTTPRequest) async throws -> HTTPResponse
}

/// How `CurlTransport` connects.
public struct HTTPOptions: Sendable, Equatable {
    /// A PEM file of CA certificates to trust instead of the system's (it may hold several).
    public var caBundle: String?
    /// `host:port:address` entries: connect to `address` while keeping `host` for the Host header and SNI
    /// (libcurl's CURLOPT_RESOLVE).
    public var resolve: [String]
    public var connectTimeout: Duration
    /// The whole exchange, connect included.
    public var timeout: Duration
    public var userAgent: String
    /// The most a response (headers and body) may hold; past it the transfer stops with `.tooLarge`. ACME
    /// responses are kilobytes (a certificate chain a few); a server that streams without end must not fill memory.
    public var maxResponseBytes: Int
    /// Keep what the handshake showed: the certificates the server presents (`HTTPResponse.certificates`) and the
    /// protocol and cipher agreed on (`HTTPResponse.tls`). Each request then opens a new connection: these are
    /// read during the handshake, which a reused connection does not repeat.
    public var certificateChain: Bool
    /// False: accept any certificate and name (never for sending anything; only to read what a server presents
    /// after a verified request failed, so the failure can say what was served).
    public var verifyPeer: Bool
    /// The TLS versions the handshake may use; nil: the TLS library's defaults. A range below TLS 1.2 also lowers
    /// OpenSSL's security level to 0, which otherwise refuses TLS 1.0 and 1.1 on this side: such a range only asks
    /// whether a server would accept them.
    public var tlsVersions: ClosedRange<TLSVersion>?
    /// Through a proxy or not. `.direct` also keeps libcurl from reading `http_proxy`/`https_proxy` itself: a
    /// request goes through a proxy only where sbs says so.
    public var proxy: ProxyRoute

    public init(
        caBundle: String? = nil, resolve: [String] = [], connectTimeout: Duration = .seconds(10),
        timeout: Duration = .seconds(30), userAgent: String = "sbs-acme/0.1 (libcurl)",
        maxResponseBytes: Int = 4 << 20, certificateChain: Bool = false, verifyPeer: Bool = true,
        tlsVersions: ClosedRange<TLSVersion>? = nil, proxy: ProxyRoute = .direct
    ) {
        self.proxy = proxy
        self.maxResponseBytes = maxResponseBytes
        self.certificateChain = certificateChain
        self.verifyPeer = verifyPeer
        self.tlsVersions = tlsVersions
        self.caBundle = caBundle
        self.resolve = resolve
        self.connectTimeout = connectTimeout
        self.timeout = timeout
        self.userAgent = userAgent
    }
}

/// HTTP over libcurl. URLSession on Linux cannot trust a private CA, which Pebble and private ACME CAs need.
/// Idle easy handles are kept and reused: curl_easy_reset keeps their connection cache, so the ACME exchange
/// runs over one kept-alive TLS connection instead of a handshake per request.
public final class CurlTransport: HTTPTransport {
    private let options: HTTPOptions
    private let idle = Mutex<[CurlHandle]>([])

    public init(options: HTTPOptions = HTTPOptions()) {
        _ = CurlTransport.globalInit
        self.options = options
    }

    deinit {
        idle.withLock { handles in
            for handle in handles { sbs_curl_easy_cleanup(handle.pointer) }
            handles.removeAll()
        }
    }

    /// curl_global_init must run once before any other curl call, before threads use curl.
    private static let globalInit: Bool = sbs_curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK

    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await transfer(request, chunk: nil)
    }

    /// Sends `request` and hands the body to `chunk` as it arrives, on the transfer's thread (a streamed answer:
    /// Ollama's pull progress). The body is not kept nor counted against `maxResponseBytes`; the returned
    /// response has the status and headers. `chunk` returning false stops the transfer.
    public func stream(_ request: HTTPRequest, chunk: @escaping @Sendable ([UInt8]) -> Bool) async throws
        -> HTTPResponse
    {
        try await transfer(request, chunk: chunk)
    }

    private func transfer(_ request: HTTPRequest, chunk: (@Sendable ([UInt8]) -> Bool)?) async throws -> HTTPResponse {
        try Task.checkCancellation()
        let handle = idle.withLock { $0.popLast() } ?? CurlHandle(pointer: sbs_curl_easy_init())
        let options = self.options
        let stop = StopFlag()
        // curl_easy_perform blocks: off the task pool, on a thread of its own. Cancelling the task (Ctrl-C) stops
        // the transfer at curl's next progress call (well within a second) instead of waiting for its timeout.
        let result: Result<HTTPResponse, HTTPTransportError> = await withTaskCancellationHandler {
            await onOwnThread { CurlTransport.perform(request, on: handle, options: options, stop: stop, chunk: chunk) }
        } onCancel: {
            stop.set()
        }
        idle.withLock { $0.append(handle) }
        if stop.isSet { throw CancellationError() }
        return try result.get()
    }

    private static func perform(
        _ request: HTTPRequest, on handle: CurlHandle, options: HTTPOptions, stop: StopFlag,
        chunk: (@Sendable ([UInt8]) -> Bool)?
    ) -> Result<HTTPResponse, HTTPTransportError> {
        guard let curl = handle.pointer else {
            return .failure(
                HTTPTransportError(
                    kind: .other, url: request.url,
                    detail: "libcurl cannot be used: \(String(cString: sbs_curl_load_error())) (install libcurl4)"))
        }
        if let caBundle = options.caBundle {
            // libcurl opens the bundle itself, by its path: a FIFO there would block it in open(2) beyond the reach
            // of every timeout, and /dev/zero would be read without end. A missing file is libcurl's to report.
            do { _ = try AtomicFile.checkRegularFile(caBundle, limit: .caBundle) } catch {
                return .failure(HTTPTransportError(kind: .other, url: request.url, detail: error.message))
            }
        }
        sbs_curl_easy_reset(curl)
        let sink = ResponseSink(limit: options.maxResponseBytes, stop: stop)
        sink.chunk = chunk
        let unmanaged = Unmanaged.passRetained(sink)
        defer { unmanaged.release() }
        var errorBuffer = [CChar](repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)

        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        // "Expect:" stops curl from waiting for a 100-continue on larger POST bodies (a CSR is > 1 kB).
        for line in request.headers.map({ "\($0.name): \($0.value)" }) + ["Expect:"] {
            headerList = sbs_curl_slist_append(headerList, line)
        }
        var resolveList: UnsafeMutablePointer<curl_slist>? = nil
        for entry in options.resolve { resolveList = sbs_curl_slist_append(resolveList, entry) }
        defer {
            sbs_curl_slist_free_all(headerList)
            sbs_curl_slist_free_all(resolveList)
        }

        let code: CURLcode = errorBuffer.withUnsafeMutableBufferPointer { errorPointer in
            sbs_curl_setopt_string(curl, CURLOPT_URL, request.url)
            sbs_curl_setopt_long(curl, CURLOPT_NOSIGNAL, 1)
            sbs_curl_setopt_long(curl, CURLOPT_FOLLOWLOCATION, 0)
            sbs_curl_setopt_long(curl, CURLOPT_CONNECTTIMEOUT_MS, milliseconds(options.connectTimeout))
            sbs_curl_setopt_long(curl, CURLOPT_TIMEOUT_MS, milliseconds(options.timeout))
            sbs_curl_setopt_string(curl, CURLOPT_USERAGENT, options.userAgent)
            sbs_curl_setopt_pointer(curl, CURLOPT_ERRORBUFFER, errorPointer.baseAddress)
            if let caBundle = options.caBundle { sbs_curl_setopt_string(curl, CURLOPT_CAINFO, caBundle) }
            if resolveList != nil { sbs_curl_setopt_slist(curl, CURLOPT_RESOLVE, resolveList) }
            switch options.proxy {
            case .direct:
                // An empty proxy turns off the environment's too.
                sbs_curl_setopt_string(curl, CURLOPT_PROXY, "")
            case .through(let settings):
                sbs_curl_setopt_string(curl, CURLOPT_PROXY, settings.proxy(for: request.url) ?? "")
                // Set even when empty: the list replaces the environment's `no_proxy`.
                sbs_curl_setopt_string(curl, CURLOPT_NOPROXY, settings.noProxyValue)
            }
            if options.certificateChain {
                sbs_curl_setopt_long(curl, CURLOPT_CERTINFO, 1)
                sbs_curl_setopt_long(curl, CURLOPT_FRESH_CONNECT, 1)
                // The agreed protocol and cipher reach the program only as libcurl's informational text.
                sbs_curl_setopt_long(curl, CURLOPT_VERBOSE, 1)
                sbs_curl_setopt_debug(curl, CURLOPT_DEBUGFUNCTION, curlDebugCallback)
                sbs_curl_setopt_pointer(curl, CURLOPT_DEBUGDATA, unmanaged.toOpaque())
            }
            if let versions = options.tlsVersions {
                sbs_curl_setopt_long(
                    curl, CURLOPT_SSLVERSION, versions.lowerBound.curlMinimum | versions.upperBound.curlMaximum)
                if versions.upperBound < .tls1_2 {
                    sbs_curl_setopt_string(curl, CURLOPT_SSL_CIPHER_LIST, "DEFAULT:@SECLEVEL=0")
                }
            }
            if !options.verifyPeer {
                sbs_curl_setopt_long(curl, CURLOPT_SSL_VERIFYPEER, 0)
                sbs_curl_setopt_long(curl, CURLOPT_SSL_VERIFYHOST, 0)
            }
            sbs_curl_setopt_slist(curl, CURLOPT_HTTPHEADER, headerList)
            switch request.method {
            case .get:
                sbs_curl_setopt_long(curl, CURLOPT_HTTPGET, 1)
            case .head:
                sbs_curl_setopt_long(curl, CURLOPT_NOBODY, 1)
            case .post:
                sbs_curl_setopt_long(curl, CURLOPT_POST, 1)
                sbs_curl_setopt_offset(curl, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count))
                // COPYPOSTFIELDS copies the bytes, so the Swift array need not outlive this closure.
                request.body.withUnsafeBytes { bytes in
                    _ = sbs_curl_setopt_pointer(
                        curl, CURLOPT_COPYPOSTFIELDS,
                        UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)))
                }
            }
            sbs_curl_setopt_callback(curl, CURLOPT_WRITEFUNCTION, curlBodyCallback)
            sbs_curl_setopt_pointer(curl, CURLOPT_WRITEDATA, unmanaged.toOpaque())
            sbs_curl_setopt_callback(curl, CURLOPT_HEADERFUNCTION, curlHeaderCallback)
            sbs_curl_setopt_pointer(curl, CURLOPT_HEADERDATA, unmanaged.toOpaque())
            sbs_curl_setopt_long(curl, CURLOPT_NOPROGRESS, 0)
            sbs_curl_setopt_progress(curl, CURLOPT_XFERINFOFUNCTION, curlProgressCallback)
            sbs_curl_setopt_pointer(curl, CURLOPT_XFERINFODATA, unmanaged.toOpaque())
            return sbs_curl_easy_perform(curl)
        }
        if sink.overflow {
            return .failure(
                HTTPTransportError(
                    kind: .tooLarge, url: request.url,
                    detail:
                        "the response went past \(sink.limit / 1024) KiB and sbs stopped reading it (an ACME response is a few kilobytes)"
                ))
        }
        guard code == CURLE_OK else {
            let buffered = String(
                decoding: errorBuffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let detail = buffered.isEmpty ? String(cString: sbs_curl_easy_strerror(code)) : buffered
            return .failure(HTTPTransportError(kind: kind(of: code), url: request.url, detail: detail))
        }
        var status = 0
        sbs_curl_getinfo_long(curl, CURLINFO_RESPONSE_CODE, &status)
        let certificates = options.certificateChain ? presentedChain(curl) : []
        return .success(
            HTTPResponse(
                status: status, headers: sink.headers, body: sink.body, certificates: certificates,
                tls: sink.tlsSession))
    }

    /// The `Cert:` entries of CURLINFO_CERTINFO: one PEM per certificate the server sent, leaf first.
    private static func presentedChain(_ curl: UnsafeMutableRawPointer) -> [String] {
        var info: UnsafeMutablePointer<curl_certinfo>? = nil
        guard sbs_curl_getinfo_certinfo(curl, &info) == CURLE_OK, let info, let lists = info.pointee.certinfo else {
            return []
        }
        var chain: [String] = []
        for index in 0..<Int(info.pointee.num_of_certs) {
            var entry = lists[index]
            while let node = entry {
                if let data = node.pointee.data {
                    let field = String(cString: data)
                    if field.hasPrefix("Cert:") { chain.append(String(field.dropFirst(5))) }
                }
                entry = node.pointee.next
            }
        }
        return chain
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }

    private static func kind(of code: CURLcode) -> HTTPTransportError.Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY: return .dns
        case CURLE_COULDNT_CONNECT: return .connect
        case CURLE_OPERATION_TIMEDOUT: return .timeout
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
            CURLE_SSL_CERTPROBLEM:
            return .tls
        default: return .other
        }
    }
}

/// An easy handle moved between the pool and the thread that performs on it; never used by two at once.
private final class CurlHandle: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer?
    init(pointer: UnsafeMutableRawPointer?) { self.pointer = pointer }
}

/// Collects one response; curl calls into it on the performing thread only.
private final class ResponseSink {
    let limit: Int
    let stop: StopFlag
    var headers: [(name: String, value: String)] = []
    var body: [UInt8] = []
    /// Bytes of headers and body received so far, and whether they went past `limit` (the transfer was stopped).
    var received = 0
    var overflow = false
    /// Set for a streamed transfer: the body goes here instead of `body`.
    var chunk: (@Sendable ([UInt8]) -> Bool)?
    /// What the handshake agreed on, from libcurl's informational text (with `HTTPOptions.certificateChain`).
    var tlsSession: TLSSession?

    init(limit: Int, stop: StopFlag) {
        self.limit = limit
        self.stop = stop
    }

    /// Counts `length` more bytes; false (and `overflow`) once past the limit, which makes curl stop.
    func accept(_ length: Int) -> Bool {
        received += length
        if received > limit { overflow = true }
        return !overflow
    }
}

private let curlBodyCallback: sbs_curl_data_callback = { data, size, count, userdata in
    guard let data, let userdata else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    if let chunk = sink.chunk {
        let bytes = data.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
        return chunk(bytes) ? length : 0
    }
    guard sink.accept(length) else { return 0 }
    data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        sink.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: length))
    }
    return length
}

private let curlHeaderCallback: sbs_curl_data_callback = { data, size, count, userdata in
    guard let data, let userdata else { return 0 }
    let sink = Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue()
    let length = size * count
    guard sink.accept(length) else { return 0 }
    let line = data.withMemoryRebound(to: UInt8.self, capacity: length) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: length), as: UTF8.self)
    }.trimmed
    if line.hasPrefix("HTTP/") {
        // A new status line (after a 100 Continue, say) starts a new header block.
        sink.headers.removeAll()
    } else if let colon = line.firstIndex(of: ":") {
        let name = line[..<colon].trimmed.lowercased()
        let value = line[line.index(after: colon)...].trimmed
        sink.headers.append((name: name, value: value))
    }
    return length
}

/// libcurl's informational text: only the line naming the agreed TLS protocol and cipher is kept.
private let curlDebugCallback: sbs_curl_debug_callback = { _, type, data, size, userdata in
    guard type == CURLINFO_TEXT, let data, let userdata else { return 0 }
    let line = data.withMemoryRebound(to: UInt8.self, capacity: size) { bytes in
        String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    }.trimmed
    if let session = TLSSession(curlLine: line) {
        Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue().tlsSession = session
    }
    return 0
}

/// Set when the task waiting for a transfer is cancelled; read by curl's progress callback on the transfer's thread.
final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Non-zero aborts the transfer (CURLE_ABORTED_BY_CALLBACK).
private let curlProgressCallback: sbs_curl_progress_callback = { userdata, _, _, _, _ in
    guard let userdata else { return 0 }
    return Unmanaged<ResponseSink>.fromOpaque(userdata).takeUnretainedValue().stop.isSet ? 1 : 0
}
