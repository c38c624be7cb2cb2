"""Audio data: I/O (`audio`, `audio_utils`), manifests (`manifest`), datasets
(`audio_dataset`, `music_dataset`), the Lightning data module (`datamodule`) and the
synthetic music set (`synth`, `synth_voices`). Import the submodules directly."""
