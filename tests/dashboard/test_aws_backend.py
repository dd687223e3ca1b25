"""The same app on the AWS backend, by settings alone: S3 + DynamoDB on a real moto_server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from wound.store import AwsStore, LocalStore

pytestmark = pytest.mark.integration


@pytest.fixture
def aws_home(aws_env: str, dashboard_env: Path, monkeypatch: pytest.MonkeyPatch) -> AwsStore:
    """Four captures and model A of the seeded store, copied into a fresh bucket and tables;
    the settings then name the AWS backend."""
    import uuid

    bucket, prefix = f"dash-{uuid.uuid4().hex[:10]}", f"d{uuid.uuid4().hex[:8]}"
    aws = AwsStore(bucket, prefix)
    aws.init()
    local = LocalStore(dashboard_env)
    for record in list(local.iter_captures())[:4]:
        aws.put_capture(local.get_capture(record.capture_id))
    model = local.get_model("burn-depth-tiny-a")
    files = {name: local.get_model_file(model.model_id, name) for name in model.files}
    aws.put_model(model.model_id, files, task=model.task, info=model.info)
    monkeypatch.setenv("WOUND_BACKEND", "aws")
    monkeypatch.setenv("WOUND_BUCKET", bucket)
    monkeypatch.setenv("WOUND_TABLE_PREFIX", prefix)
    return aws


def test_captures_and_scoring_on_aws(
    aws_home: AwsStore, page_app: Callable[[str], AppTest]
) -> None:
    at = page_app("captures").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.image) == 4
    at = page_app("score").run()
    at.radio(key="score_source").set_value("A stored capture").run()
    at.button(key="score_button").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.metric or any("Refused" in e.value for e in at.error)
    [prediction] = aws_home.list_predictions()
    assert prediction.model_id == "burn-depth-tiny-a"
