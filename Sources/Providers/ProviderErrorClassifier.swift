import AsyncHTTPClient
import FleetSupport
import Foundation
import NIOCore
import NIOHTTP1

/// Maps provider answers and transport failures to ``ProviderError``.
public enum ProviderErrorClassifier {
    /// Classifies a non-2xx answer from its status, headers and body.
    ///
    /// - Parameters:
    ///   - secret: the API key used for the call; removed from any text kept from the body.
    ///   - now: the current time, for reset headers that carry a timestamp.
    public static func classify(
        status: Int, headers: HTTPHeaders, body: [UInt8], provider: ProviderKind,
        secret: String?, now: Date = Date()
    ) -> ProviderError {
        // The HTTP client follows no redirects (ProviderClientFactory.makeHTTPClient).
        let redirect = (300..<400).contains(status)
        var detail = ErrorBody(body)
        if redirect { detail.message = nil } // a redirect's body is a web page
        let overloaded = detail.code == "overloaded_error"
        let kind: ProviderError.Kind
        switch status {
        case 429: kind = .rateLimited
        case 529: kind = .overloaded
        case _ where overloaded: kind = .overloaded
        case 401, 403: kind = .auth
        // Gemini answers a bad key with 400 INVALID_ARGUMENT, its reason in `details`.
        case 400 where detail.reason == "API_KEY_INVALID": kind = .auth
        case 408, 409: kind = .server
        case 400..<500: kind = .badRequest
        default: kind = .server
        }
        var retryable = ProviderError.defaultRetryable(kind)
        // OpenAI's "insufficient_quota" is a 429 that no amount of waiting fixes.
        if detail.code == "insufficient_quota" { retryable = false }
        if let should = headers.first(name: "x-should-retry")?.lowercased() {
            if should == "true" { retryable = true } else if should == "false" { retryable = false }
        }
        var fallback = "HTTP \(status)"
        if redirect {
            fallback = "HTTP \(status): the provider redirected to \(headers.first(name: "location") ?? "another address"); fleetd follows no redirects (the API key would go along), so set the model's endpoint to the final address"
        }
        return ProviderError(
            kind: kind, provider: provider, status: status,
            retryAfter: retryDelay(headers: headers, now: now) ?? detail.retryDelay,
            providerCode: detail.code.map { redact($0, secret: secret) },
            message: redact(detail.message ?? fallback, secret: secret),
            isRetryable: retryable
        )
    }

    /// An error a provider reported inside a stream (Anthropic `event: error`, Gemini's bare JSON,
    /// Ollama's `{"error":…}` line).
    ///
    /// A capacity error (overloaded, rate limited, unavailable) sent this way, before any output,
    /// is what a 529, 429 or 503 status would have been: the next model is tried at once and the
    /// model's breaker hears of it. Gemini says it with `code` (the HTTP status) and `status`,
    /// OpenAI-compatible servers with `code` or `type`, Anthropic with `type`.
    public static func midStream(json: [UInt8], provider: ProviderKind, secret: String?) -> ProviderError {
        let detail = ErrorBody(json)
        let code = detail.code?.lowercased() ?? ""
        let kind: ProviderError.Kind = switch (detail.status, code) {
        case (_, "overloaded_error"), (529, _), (503, _), (_, "unavailable"): .overloaded
        case (429, _), (_, "resource_exhausted"), (_, "rate_limit_exceeded"), (_, "rate_limit_error"): .rateLimited
        // Anything else (an internal error mid-stream) may be the stream's own trouble: it keeps
        // the synchronous call to the same model before the next target.
        default: .midStream
        }
        return ProviderError(
            kind: kind, provider: provider,
            retryAfter: kind == .rateLimited || kind == .overloaded ? detail.retryDelay : nil,
            providerCode: detail.code.map { redact($0, secret: secret) },
            message: redact(detail.message ?? "the provider reported an error mid-stream", secret: secret)
        )
    }

    /// Classifies a thrown transport error (connect, read, deadline…). Cancellation is not an error
    /// of the provider: callers should check `Task.isCancelled` / `CancellationError` first.
    public static func transport(_ error: any Error, provider: ProviderKind, secret: String?) -> ProviderError {
        if let error = error as? ProviderError { return error }
        if let error = error as? HTTPClientError {
            if [.connectTimeout, .readTimeout, .deadlineExceeded, .writeTimeout].contains(error) {
                return ProviderError(kind: .timeout, provider: provider, message: "timed out: \(error)")
            }
            if [.invalidURL, .emptyHost, .emptyScheme].contains(error) {
                return ProviderError(kind: .badRequest, provider: provider, message: "bad URL: \(error)", isRetryable: false)
            }
            return ProviderError(kind: .network, provider: provider, message: redact("\(error)", secret: secret))
        }
        return ProviderError(kind: .network, provider: provider, message: redact(String(describing: error), secret: secret))
    }

    /// How long to wait before retrying, from (in order) `retry-after-ms`, `retry-after`
    /// (seconds or an HTTP date), or the rate-limit reset headers of Anthropic
    /// (`anthropic-ratelimit-*-reset`, RFC 3339) and OpenAI (`x-ratelimit-reset-*`, e.g. `6m0s`).
    /// For reset headers, the limits whose `remaining` is 0 decide (the latest of them); when
    /// none is marked exhausted, the soonest reset is used.
    public static func retryDelay(headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        if let ms = headers.first(name: "retry-after-ms").flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), ms >= 0 {
            return .milliseconds(Int64(ms.rounded(.up)))
        }
        if let value = headers.first(name: "retry-after")?.trimmingCharacters(in: .whitespaces) {
            if let seconds = Double(value), seconds >= 0 { return .milliseconds(Int64((seconds * 1000).rounded(.up))) }
            if let date = httpDate(value) { return .milliseconds(max(0, Int64(date.timeIntervalSince(now) * 1000))) }
        }
        var exhausted: [Duration] = []
        var all: [Duration] = []
        for (name, value) in headers {
            let lower = name.lowercased()
            let isAnthropic = lower.hasPrefix("anthropic-ratelimit-") && lower.hasSuffix("-reset")
            guard isAnthropic || lower.hasPrefix("x-ratelimit-reset-") else { continue }
            let delay: Duration?
            if lower.hasPrefix("anthropic-") {
                delay = rfc3339(value).map { .milliseconds(max(0, Int64($0.timeIntervalSince(now) * 1000))) }
            } else {
                delay = goDuration(value)
            }
            guard let delay else { continue }
            all.append(delay)
            let remainingName = lower.hasPrefix("anthropic-")
                ? String(lower.dropLast("-reset".count)) + "-remaining"
                : "x-ratelimit-remaining-" + lower.dropFirst("x-ratelimit-reset-".count)
            if headers.first(name: remainingName).flatMap({ Int($0) }) == 0 { exhausted.append(delay) }
        }
        return exhausted.max() ?? all.min()
    }

    /// Parses OpenAI's reset values: `1s`, `6m0s`, `174ms`, `1h2m3.5s`.
    static func goDuration(_ text: String) -> Duration? {
        var total = 0.0
        var number = ""
        var index = text.startIndex
        var sawUnit = false
        while index < text.endIndex {
            let c = text[index]
            if c.isNumber || c == "." {
                number.append(c)
                index = text.index(after: index)
                continue
            }
            var unit = String(c)
            let next = text.index(after: index)
            if c == "m", next < text.endIndex, text[next] == "s" { unit = "ms" }
            guard let value = Double(number) else { return nil }
            switch unit {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            case "ms": total += value / 1000
            default: return nil
            }
            sawUnit = true
            number = ""
            index = text.index(index, offsetBy: unit.count)
        }
        guard sawUnit, number.isEmpty else { return nil }
        return .milliseconds(Int64((total * 1000).rounded(.up)))
    }

    static func rfc3339(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }

    /// Removes the key from text (and caps its length).
    static func redact(_ text: String, secret: String?) -> String {
        var text = text
        if let secret, secret.count >= 4 { text = text.replacingOccurrences(of: secret, with: "[REDACTED]") }
        if text.count > 500 { text = String(text.prefix(500)) + "…" }
        return text
    }
}

/// The message and code of an error body in any provider's shape.
struct ErrorBody {
    var message: String?
    var code: String?
    /// Google's `details[]`: an `ErrorInfo`'s `reason` (`API_KEY_INVALID`, …) and a `RetryInfo`'s
    /// `retryDelay` (`"37s"`): Gemini sends no Retry-After header.
    var reason: String?
    var retryDelay: Duration?
    /// Gemini's numeric `code`: the HTTP status the error stands for.
    var status: Int?

    init(_ bytes: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            let text = String(decoding: bytes.prefix(500), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            message = text.isEmpty ? nil : text
            return
        }
        if let error = object["error"] as? String { // Ollama
            message = error
        } else if let error = object["error"] as? [String: Any] {
            message = error["message"] as? String
            // OpenAI's `code` is the specific reason (insufficient_quota, rate_limit_exceeded);
            // Anthropic has only `type`; Gemini's `code` is the HTTP status and `status` the reason.
            code = (error["code"] as? String) ?? (error["type"] as? String) ?? (error["status"] as? String)
            status = error["code"] as? Int
            for detail in error["details"] as? [[String: Any]] ?? [] {
                if let value = detail["reason"] as? String { reason = value }
                if let value = detail["retryDelay"] as? String, value.hasSuffix("s"), let seconds = Double(value.dropLast()), seconds >= 0 {
                    retryDelay = .milliseconds(Int64((seconds * 1_000).rounded(.up)))
                }
            }
        } else if let text = object["message"] as? String {
            message = text
        }
    }
}
