"""Grids of MusicGen LM trainings and evaluations (`dora grid musicgen.<name>`)."""
