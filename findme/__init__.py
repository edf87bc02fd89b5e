"""Find Me AI: face search for missing-children cases.

Folders follow the data flow (``../shared/DESIGN.md``): ``faces`` (load, detect, assess, align,
embed; one class per model) -> ``search`` (vector store, calibration, the matcher that ranks and
decides, writing nothing) -> ``cases`` (records, registry with the consent rule, the one
``create_lead``, users) -> ``alerts`` (rules, outbox, channels). ``video`` tracks faces in
footage and the webcam; ``provision`` makes the real weights; ``evaluation`` measures;
``ui`` and ``cli`` only call these. ``config`` holds settings, ``workspace`` opens a data folder.
"""

try:  # pragma: no branch
    # The live camera's WebRTC stack (aiortc -> pylibsrtp) crashes the process (SIGSEGV) when
    # its OpenSSL is loaded after TensorFlow's; loaded first (25 ms), both work. Measured with
    # pylibsrtp 1.0.0 and TensorFlow 2.21; see tests/test_live.py.
    import pylibsrtp  # noqa: F401
except ImportError:  # the dashboard's live camera is then unavailable, nothing else is
    pass

__version__ = "0.1.0"
