"""Find Me AI: face search for missing-children cases.

The package is a set of stages (see ``../shared/DESIGN.md``): ``pipeline`` turns images into
faces and embeddings, ``weights`` provisions the real model files, ``config`` holds settings.
"""

try:  # pragma: no branch
    # The live camera's WebRTC stack (aiortc -> pylibsrtp) crashes the process (SIGSEGV) when
    # its OpenSSL is loaded after TensorFlow's; loaded first (25 ms), both work. Measured with
    # pylibsrtp 1.0.0 and TensorFlow 2.21; see tests/test_live.py.
    import pylibsrtp  # noqa: F401
except ImportError:  # the dashboard's live camera is then unavailable, nothing else is
    pass

__version__ = "0.1.0"
