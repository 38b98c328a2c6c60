/// What the U-Net predicts (`prediction_type`).
enum PredictionType: String, Sendable {
    case epsilon
    case vPrediction = "v_prediction"
    case sample

    init(_ value: String?, scheduler: String, allowed: [PredictionType]) throws {
        let raw = value ?? PredictionType.epsilon.rawValue
        guard let type = PredictionType(rawValue: raw), allowed.contains(type) else {
            throw SchedulerError.invalid(scheduler: scheduler, field: "prediction_type", value: raw,
                                         expected: allowed.map(\.rawValue).joined(separator: ", "))
        }
        self = type
    }
}
