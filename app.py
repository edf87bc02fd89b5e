"""Find Me AI dashboard entry point (overview for now: model status).

UI only: everything shown comes from ``findme``.
"""

import pandas as pd
import streamlit as st

from findme import weights
from findme.config import get_settings

st.set_page_config(page_title="Find Me AI", page_icon=":mag:", layout="wide")
settings = get_settings()

st.title("Find Me AI")
st.caption("Face search that helps find missing children. A match is a lead for a person to "
           "review, never a verdict.")

statuses = weights.check(settings)
ready = weights.defaults_ok(statuses)
if ready:
    st.success("Default models and detector are provisioned and verified.")
else:
    st.error("Some default models are missing: run `make run` (or `findme provision`).")
st.subheader("Models and detectors")
st.dataframe(pd.DataFrame([s.__dict__ for s in statuses])[["name", "kind", "ok", "default",
                                                           "detail"]],
             hide_index=True, use_container_width=True)
st.caption(f"Data folder: {settings.data_dir}")
