"""Grids of compression-model trainings (`dora grid compression.<name>`)."""
