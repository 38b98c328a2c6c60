import Foundation
import HiDiffModels
import HiDiffSchedulers

/// The scheduler configs the released checkpoints ship (`scheduler/scheduler_config.json`), used for single
/// files, which carry none: runwayml/stable-diffusion-v1-5 (PNDM), stabilityai/stable-diffusion-2-1 (DDIM,
/// v-prediction: diffusers' `from_single_file` also assumes the 768 px v-model for SD 2.x files),
/// stabilityai/stable-diffusion-xl-base-1.0 (Euler, leading spacing) and stabilityai/sdxl-turbo (Euler
/// ancestral, trailing spacing).
public enum DefaultSchedulerConfigs {
    /// The config of `layout`'s released model (`turbo`: SDXL-Turbo's).
    public static func config(for layout: CheckpointLayout, turbo: Bool) throws -> SchedulerConfig {
        var json: [String: Any] = [
            "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear", "num_train_timesteps": 1000,
            "steps_offset": 1, "clip_sample": false, "set_alpha_to_one": false, "skip_prk_steps": true,
        ]
        switch layout {
        case .sd1:
            json["_class_name"] = "PNDMScheduler"
        case .sd2:
            json["_class_name"] = "DDIMScheduler"
            json["prediction_type"] = "v_prediction"
        case .sdxl:
            json["_class_name"] = turbo ? "EulerAncestralDiscreteScheduler" : "EulerDiscreteScheduler"
            json["timestep_spacing"] = turbo ? "trailing" : "leading"
            json["interpolation_type"] = "linear"
            json["prediction_type"] = "epsilon"
            json["use_karras_sigmas"] = false
        }
        return try SchedulerConfig(jsonData: JSONSerialization.data(withJSONObject: json))
    }
}
