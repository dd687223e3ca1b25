"""One module per dashboard page; each has ``render()`` (see dashboard/app.py)."""
