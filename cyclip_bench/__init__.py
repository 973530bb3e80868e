"""cyclip-bench: train CLIP/CyCLIP models and benchmark how consistent their image and text spaces are."""

__version__ = "0.1.0"
