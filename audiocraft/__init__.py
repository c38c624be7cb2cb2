"""audiocraft: train, evaluate and sample MusicGen-style text-to-music models.

The public API is small and listed in the README: ``audiocraft.models.MusicGen`` and
``audiocraft.data.audio.audio_write`` for sampling, ``python -m audiocraft.train`` for
training and ``audiocraft`` (the CLI) for everything else.
"""

__version__ = "0.1.0"
