"""The multipage entry point: the navigation opens on the Score page, errors never show traces."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

import dashboard

APP = Path(dashboard.__file__).parent / "app.py"


def test_app_opens_on_the_score_page(dashboard_env: Path) -> None:
    at = AppTest.from_file(str(APP), default_timeout=120).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert [t.value for t in at.title] == ["Score a capture"]
    assert any("not an excision margin" in c.value for c in at.sidebar.caption)


def test_no_page_module_is_missing() -> None:
    from dashboard.app import PAGES

    assert [path for _, _, path in PAGES] == [
        "score",
        "captures",
        "detail",
        "timeline",
        "models",
        "labeling",
    ]


def test_with_oidc_configured_only_logged_in_users_get_in(dashboard_env: Path) -> None:
    auth = {
        "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
        "cookie_secret": "test-only",
        "client_id": "wound-dashboard",
        "client_secret": "test-only",
        "server_metadata_url": "https://id.example.org/.well-known/openid-configuration",
    }
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = auth
    at.user["is_logged_in"] = False
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Wound imaging"]
    assert [b.label for b in at.button] == ["Log in"]
    at = AppTest.from_file(str(APP), default_timeout=120)
    at.secrets["auth"] = auth
    at.user.update({"is_logged_in": True, "email": "clinician@example.org"})
    at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Score a capture"]
    assert [b.label for b in at.sidebar.button] == ["Log out"]
