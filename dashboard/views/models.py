"""Placeholder (being written)."""

import streamlit as st


def page() -> None:
    st.title("models")
