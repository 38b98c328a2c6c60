extension DiffusersFolder {
    /// A folder of component folders without a `model_index.json` (e.g. the parent of a lone `unet/`
    /// written by `UNet2DConditionModel.save_pretrained`); components are addressed by folder name.
    public init(unindexed path: String) {
        self.path = path
        self.className = nil
        self.components = [:]
    }
}
