"""The dashboard's entry point: ``streamlit run dashboard/app.py`` (or ``wound dashboard``).

A multipage app (``st.navigation``): one module per page in :mod:`dashboard.views`. With an
``[auth]`` section in ``.streamlit/secrets.toml`` only users logged in through OIDC
(``st.login``) see the pages (docs/dashboard.md). An error no page expected is shown as one
clear line, never a stack trace (``wound dashboard`` also runs Streamlit with
``client.showErrorDetails=none``).
"""

from __future__ import annotations

import logging

import streamlit as st

from dashboard import services
from dashboard.views import captures, detail, labeling, models, score, timeline

PAGES = (
    (score.page, "Score a capture", "score"),
    (captures.page, "Captures", "captures"),
    (detail.page, "Capture detail", "detail"),
    (timeline.page, "Patient timeline", "timeline"),
    (models.page, "Models", "models"),
    (labeling.page, "Labeling", "labeling"),
)


def auth_configured() -> bool:
    """Whether ``.streamlit/secrets.toml`` has an ``[auth]`` section (OIDC, docs/dashboard.md)."""
    try:
        return "auth" in st.secrets
    except FileNotFoundError:  # no secrets file at all
        return False


def login_gate() -> None:
    """With OIDC configured, only logged-in users see the pages (``st.login``)."""
    if not auth_configured():
        return
    if not st.user.is_logged_in:
        st.title("Wound imaging")
        st.write("Log in with your organisation's account to continue.")
        st.button("Log in", on_click=st.login, type="primary")
        st.stop()
    st.sidebar.button("Log out", on_click=st.logout)


def main() -> None:
    st.set_page_config(page_title="Wound imaging", layout="wide")
    login_gate()
    pages = [
        st.Page(func, title=title, url_path=path, default=i == 0)
        for i, (func, title, path) in enumerate(PAGES)
    ]
    services.PAGES.clear()
    services.PAGES.update({path: page for (_, _, path), page in zip(PAGES, pages, strict=True)})
    current = st.navigation(pages)
    st.sidebar.caption(
        "Predictions are an aid to the clinician; the non-healing contour is not an excision "
        "margin."
    )
    try:
        current.run()
    except Exception as exc:  # the last guard: a message, never a traceback
        logging.getLogger("dashboard").exception("page %s failed", current.title)
        st.error(f"This page failed unexpectedly ({type(exc).__name__}): {exc}")


main()
