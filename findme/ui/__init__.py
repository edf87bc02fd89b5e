"""Streamlit helpers shared by the pages: sign-in gate, navigation, workspace handles, images.

Pages stay thin: they lay out widgets and call ``findme``; what several pages need (who is signed
in, which workspace is open, drawing face boxes) lives here.
"""
