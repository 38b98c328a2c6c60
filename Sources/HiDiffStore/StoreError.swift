/// Domain errors of the job store. Database failures (including connection loss) are thrown as
/// `PostgresError` unchanged, except constraint and data errors on input, which become `.invalid`.
public enum StoreError: Error, CustomStringConvertible, Sendable {
    /// The lease no longer holds the job (rescued, re-claimed, cancelled, finished): nothing was changed.
    case leaseLost(Lease)
    /// No job with this id.
    case notFound(jobID: Int64)
    /// Input the schema refuses (e.g. steps 0, invalid JSON, step beyond steps), or a bad argument.
    case invalid(String)
    /// The job is in a state the operation does not apply to.
    case invalidState(jobID: Int64, state: JobState, operation: String)
    /// No worker with this name is registered.
    case unknownWorker(String)
    /// A row the store cannot interpret (e.g. an unknown state name).
    case corruptRow(String)

    /// A sentence saying what went wrong.
    public var description: String {
        switch self {
        case .leaseLost(let lease):
            return "lease lost: \(lease) no longer holds the job (rescued, re-claimed, cancelled or finished); nothing changed"
        case .notFound(let id):
            return "job \(id) not found"
        case .invalid(let message):
            return "invalid: \(message)"
        case .invalidState(let id, let state, let operation):
            return "cannot \(operation) job \(id): it is \(state.rawValue)"
        case .unknownWorker(let name):
            return "worker '\(name)' is not registered"
        case .corruptRow(let message):
            return "unreadable row: \(message)"
        }
    }
}
