import Foundation
import HiDiffModels
import HiDiffSchedulers

extension DiffusersFolder {
    /// The pipeline's `scheduler/scheduler_config.json` (or `scheduler/config.json`), decoded and
    /// range-checked.
    ///
    /// - Throws: `WeightError.badConfig` for unreadable JSON, `SchedulerError.outOfRange` naming the file and
    ///   field for a value no scheduler can be built with (e.g. `num_train_timesteps` 1e12).
    func schedulerConfig() throws -> SchedulerConfig {
        let dir = componentPath("scheduler")
        let file = FileManager.default.fileExists(atPath: dir + "/config.json")
            || !FileManager.default.fileExists(atPath: dir + "/scheduler_config.json")
            ? "config.json" : "scheduler_config.json"
        let config = try config("scheduler", file: file, as: SchedulerConfig.self)
        try config.checkValues(file: dir + "/" + file)
        return config
    }
}
