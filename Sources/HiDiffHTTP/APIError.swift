import Foundation
import Hummingbird

/// A refused request: its status, a message that names the problem and what to do, and the field at fault.
///
/// Sent as JSON: `{"error": message, "field": key, "detail": [{"loc": ["body", key], "msg": message, "type": kind}]}`
/// (`detail` in the shape FastAPI gives AUTOMATIC1111's own validation errors, so its clients show it).
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    public let status: HTTPResponse.Status
    public let message: String
    public let field: String?
    public let kind: String

    public init(_ status: HTTPResponse.Status, _ message: String, field: String? = nil, kind: String = "value_error") {
        self.status = status
        self.message = message
        self.field = field
        self.kind = kind
    }

    /// 400: the body is not JSON.
    static func malformed(_ why: String) -> APIError {
        APIError(.badRequest, "the request body is not valid JSON (\(why)); send one JSON object", kind: "json_invalid")
    }

    /// 422: a field of the wrong type.
    static func wrongType(_ field: String, expected: String, got: JSONValue) -> APIError {
        APIError(.unprocessableContent, "\(field) must be \(expected) (got \(got.typeName))", field: field, kind: "type_error")
    }

    /// 422: a field whose value is refused.
    static func invalid(_ field: String, _ reason: String) -> APIError {
        APIError(.unprocessableContent, "\(field) \(reason)", field: field)
    }

    static let unauthorized = APIError(
        .unauthorized, "this action needs the API token: send Authorization: Bearer TOKEN, or the token as the password of HTTP basic auth",
        kind: "unauthorized")

    public var description: String { "\(status.code) \(message)" }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: Any] = ["error": message]
        var detail: [String: Any] = ["msg": message, "type": kind]
        if let field {
            body["field"] = field
            detail["loc"] = ["body"] + field.split(separator: ".").map(String.init)
        }
        body["detail"] = [detail]
        var headers: HTTPFields = [.contentType: "application/json"]
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer, Basic realm=\"hidiff\"" }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
