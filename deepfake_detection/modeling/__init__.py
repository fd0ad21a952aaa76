"""The model: VideoMAE with a real/fake head and its preprocessing (`model`), training (`training`, `launch`,
`augment`, `training_config`) and the saved detector (`detector`)."""
