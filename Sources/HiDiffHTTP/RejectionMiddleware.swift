import Hummingbird

/// Counts every refused request (4xx) by status in the metrics, whatever route refused it.
struct RejectionMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let metrics: ClusterMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            if (400..<500).contains(response.status.code) { metrics.rejected(status: response.status.code) }
            return response
        } catch let error as any HTTPResponseError {
            if (400..<500).contains(error.status.code) { metrics.rejected(status: error.status.code) }
            throw error
        }
    }
}
