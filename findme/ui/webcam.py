"""The Live camera page's notice for a computer without a webcam.

Without a camera the WebRTC component says only "NotFoundError: Requested device not found".
:func:`no_camera_notice` gives HTML (with a small script the browser runs) that asks the browser
which cameras it has and, when it has none or may not use them, shows a plain message saying
what to do instead. Out: an HTML string for ``st.html(..., unsafe_allow_javascript=True)``.
"""

from __future__ import annotations

NOTICE_ID = "findme-no-camera"
MESSAGE = ("No camera found on this computer. Plug in a webcam (or allow this site to use it "
           "in the browser's address bar) and press START again. To check recorded video "
           "instead, use CCTV footage; to check a photo, use Search photos.")


def no_camera_notice() -> str:
    """A hidden notice that the browser shows when it finds no video input."""
    return f"""<div id="{NOTICE_ID}" hidden role="alert"
      style="padding:0.75rem 1rem;border-radius:0.5rem;background:#fff4e5;color:#663c00;
             border:1px solid #ffb74d">{MESSAGE}</div>
    <script>
      (function() {{
        const box = document.getElementById("{NOTICE_ID}");
        const show = () => {{ if (box) box.hidden = false; }};
        const md = navigator.mediaDevices;
        if (!md || !md.enumerateDevices) {{ show(); return; }}
        md.enumerateDevices().then(
          (all) => {{ if (!all.some((d) => d.kind === "videoinput")) show(); }}, show);
      }})();
    </script>"""
