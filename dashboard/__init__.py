"""The Streamlit app for operators and researchers (reads the store via wound/): not built yet."""
