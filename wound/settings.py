"""One settings object: ``WOUND_*`` environment variables and ``.env``. Read only when built."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Platform configuration. AWS credentials/endpoint/region come from boto3's own variables."""

    model_config = SettingsConfigDict(env_prefix="WOUND_", env_file=".env", extra="ignore")

    backend: Literal["local", "aws"] = Field("local", description="Embedded default or AWS.")
    home: Path = Field(Path(".wound"), description="Embedded store folder (objects + SQLite).")
    bucket: str = Field("wound-captures", description="S3 bucket (aws backend).")
    table_prefix: str = Field("wound", description="DynamoDB table name prefix (aws backend).")
    sse: Literal["none", "AES256", "aws:kms"] = Field(
        "none", description="Server-side encryption for S3 objects and DynamoDB tables."
    )
    kms_key_id: str | None = Field(None, description="KMS key for sse=aws:kms.")
    aws_retry_mode: Literal["standard", "adaptive"] = Field(
        "standard", description="botocore retry mode for S3 and DynamoDB (throttling, 5xx)."
    )
    aws_max_attempts: int = Field(10, ge=1, le=50, description="botocore attempts per call.")
    archive_after_days: int = Field(
        180, ge=1, description="Days before capture objects move to the archive class (aws)."
    )
    archive_storage_class: Literal["GLACIER_IR", "GLACIER", "DEEP_ARCHIVE"] = Field(
        "GLACIER_IR", description="S3 archive class (GLACIER_IR: still readable at once)."
    )
    pseudonym_key: SecretStr | None = Field(
        None, description="HMAC key for subject pseudonyms; generated into home if unset."
    )
    max_pixels: int = Field(64_000_000, description="Largest height x width accepted.")
    max_bands: int = Field(64, description="Most bands accepted in one capture.")
    max_file_bytes: int = Field(4_000_000_000, description="Largest capture file accepted.")
    max_cube_bytes: int = Field(2**31, description="Largest decoded cube (bands x pixels x 4).")
    ingest_workers: int = Field(4, ge=1, description="Threads overlapping ingest work.")
    engine: Literal["auto", "torch", "onnxruntime"] = Field(
        "auto",
        description="Inference engine (wound.engines): auto = onnxruntime on CPU, torch on CUDA.",
    )
    # Label Studio (labeling/; docs/labeling.md). Token/password generated into
    # home/label-studio when unset and the platform serves Label Studio itself.
    label_studio_url: str = Field("http://127.0.0.1:8080", description="Label Studio URL.")
    label_studio_token: SecretStr | None = Field(None, description="Label Studio API token.")
    label_studio_user: str = Field("admin@wound.local", description="Label Studio admin e-mail.")
    label_studio_password: SecretStr | None = Field(None, description="Label Studio password.")
    label_studio_venv: Path = Field(Path(".venv-ls"), description="Label Studio's own venv.")
    label_studio_presign_ttl_min: int = Field(
        15, ge=1, le=60, description="Presigned image URL expiry (minutes, aws backend)."
    )

    def pseudonym_key_bytes(self) -> bytes:
        """The HMAC key: from settings, else a random one kept in ``home/pseudonym.key``."""
        if self.pseudonym_key is not None:
            return self.pseudonym_key.get_secret_value().encode()
        path = self.home / "pseudonym.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
        return path.read_text().strip().encode()

    def label_studio_secret(self, name: Literal["token", "password"]) -> str:
        """Label Studio token/password: from settings, else generated into ``home/label-studio``."""
        given = self.label_studio_token if name == "token" else self.label_studio_password
        if given is not None:
            return given.get_secret_value()
        path = self.home / "label-studio" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(20))
        return path.read_text().strip()


def get_settings(**overrides: object) -> Settings:
    """Build settings now (environment read here, never at import)."""
    return Settings(**overrides)  # type: ignore[arg-type]
