"""Settings, one class per concern, read from the environment with the prefix ``IRBIS_``.

``IRBIS_DATABASE_URL`` is the writer's database URL; ``IRBIS_DATABASE_READER_URL`` the
read-only role's (defaults to the writer's). Nothing is read at import time: build a
:class:`Settings` in :func:`api.app.create_app` or in the CLI.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_DATABASE_", extra="ignore")

    url: str = "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis"
    reader_url: str | None = None
    pool_size: int = 10
    statement_timeout_ms: int = 30_000

    @property
    def read_url(self) -> str:
        return self.reader_url or self.url


class APISettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_API_", extra="ignore")

    title: str = "Irbis"
    public_url: str | None = None
    cors_origins: list[str] = Field(default_factory=list)
    secret_key: str = "change-me-in-production"
    secure_cookies: bool = False


class FeatureSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_FEATURES_", extra="ignore")

    default_limit: int = 10
    max_limit: int = 10_000
    #: Cell size in degrees to which sensitive locations are generalised for the public.
    sensitive_cell_deg: float = 0.2


class TileSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_TILES_", extra="ignore")

    extent: int = 4096
    buffer: int = 64
    max_features_per_tile: int = 20_000
    min_zoom: int = 0
    max_zoom: int = 16
    cache_max_age: int = 3600
    #: In-process cache of encoded tiles (keyed by data version); 0 turns it off.
    cache_mb: int = 64


class UploadSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_UPLOADS_", extra="ignore")

    max_bytes: int = 50 * 1024 * 1024
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: float = 100.0
    max_features: int = 10_000
    max_vertices: int = 2_000_000
    max_photo_bytes: int = 10 * 1024 * 1024


class Settings(BaseSettings):
    """All of Irbis's settings."""

    model_config = SettingsConfigDict(env_prefix="IRBIS_", extra="ignore")

    data_dir: Path = REPO_ROOT / "data"
    var_dir: Path = REPO_ROOT / "var"
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    api: APISettings = Field(default_factory=APISettings)
    features: FeatureSettings = Field(default_factory=FeatureSettings)
    tiles: TileSettings = Field(default_factory=TileSettings)
    uploads: UploadSettings = Field(default_factory=UploadSettings)

    @classmethod
    def for_database(cls, url: str, reader_url: str | None = None, **kwargs: object) -> Settings:
        """Settings for an explicit database (tests, scripts)."""
        return cls(database=DatabaseSettings(url=url, reader_url=reader_url), **kwargs)  # type: ignore[arg-type]
