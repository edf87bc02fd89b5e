"""Find Me AI: face search for missing-children cases.

The package is a set of stages (see ``../shared/DESIGN.md``): ``pipeline`` turns images into
faces and embeddings, ``weights`` provisions the real model files, ``config`` holds settings.
"""

__version__ = "0.1.0"
