from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def read_requirements() -> list[str]:
    lines = (HERE / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


setup(
    name="audiocraft",
    version="0.1.0",
    description="Train, evaluate and sample MusicGen-style text-to-music models, of any length.",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["audiocraft", "audiocraft.*"]),
    include_package_data=True,
    package_data={"audiocraft": ["py.typed", "assets/**/*"]},
    install_requires=read_requirements(),
    extras_require={
        "dev": [
            "pytest>=7",
            "pytest-timeout>=2",
            "ruff>=0.5",
            "mypy>=1.8",
            "nbformat>=5",
            "nbclient>=0.9",
            "ipykernel>=6",
            "wandb>=0.16",  # the wandb logger is tested (offline mode, no account)
            # The app's browser test drives the system's chromium (apt-get install
            # chromium; .ci/run does it); playwright's own browser download is not used.
            "playwright>=1.40",
        ],
        # gradio 6: the app's event options and its streamed audio (encoded with PyAV,
        # from requirements.txt); Pillow draws the waveform video.
        "app": ["gradio>=6", "Pillow>=10.1"],
        # The metric backbones need no extra package: CLAP and the AudioSet classifier (AST)
        # come through transformers, VGGish is built in (torchvggish's import needs resampy
        # and numba, and it downloads at construction). Weights are local files only.
        "metrics": [],
        "wandb": ["wandb>=0.16"],
    },
    entry_points={"console_scripts": ["audiocraft=audiocraft.cli:main"]},
)
