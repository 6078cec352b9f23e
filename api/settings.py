"""Settings, one class per concern, read from the environment with the prefix ``IRBIS_``.

``IRBIS_DATABASE_URL`` is the writer's database URL; ``IRBIS_DATABASE_READER_URL`` the
read-only role's (defaults to the writer's). Nothing is read at import time: build a
:class:`Settings` in :func:`api.app.create_app` or in the CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from limits import parse_many
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Irbis's own static files (``/static``) and the npm-installed assets (``/vendor``).
STATIC_DIR = REPO_ROOT / "api" / "static"
NODE_MODULES = REPO_ROOT / "node_modules"


class DatabaseSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_DATABASE_", extra="ignore")

    url: str = "postgresql+psycopg://irbis:irbis@127.0.0.1:5432/irbis"
    reader_url: str | None = None
    #: Connections each of a process's two pools (writer, reader) keeps open, with no overflow
    #: beyond: at least the requests one process serves at once, so none is opened per request.
    pool_size: int = Field(20, ge=1, le=1000)
    #: Seconds after which a pooled connection is replaced as it is next taken.
    pool_recycle_s: int = Field(1800, ge=1)
    statement_timeout_ms: int = 30_000
    #: Each process LISTENs for data-version and account changes (``api.versions``) on a
    #: direct connection to the primary (not through a transaction pooler); defaults to
    #: ``url``. With ``listen`` off, versions are read from the database on every request.
    listen_url: str | None = None
    listen: bool = True
    #: When the reader is a streaming replica, a read that needs data newer than the replica
    #: has replayed (a write just made) goes to the primary instead (see docs/scaling.md).
    reader_is_replica: bool = False

    @property
    def read_url(self) -> str:
        return self.reader_url or self.url


class APISettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_API_", extra="ignore")

    title: str = "Irbis"
    #: The public base URL of every absolute link (OGC links, TileJSON, Atom, styles); when
    #: set, the Host and X-Forwarded-* headers of requests are never used for links.
    public_url: str | None = None
    #: Without ``public_url``, requests for any other host are refused (400), so that links
    #: never point at a host a client made up. Comma-separated in the environment.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "localhost", "testserver"]
    )
    cors_origins: list[str] = Field(default_factory=list)
    secret_key: str = "change-me-in-production"
    secure_cookies: bool = False
    #: Seconds a resolved login (session or API token) is kept in memory; logout, revocation,
    #: password, role and grant changes drop it at once in every process. 0 turns it off.
    principal_cache_seconds: float = Field(5.0, ge=0, le=300)

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, v: object) -> object:
        if isinstance(v, str):
            return [h.strip() for h in v.split(",") if h.strip()]
        return v


class FeatureSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_FEATURES_", extra="ignore")

    default_limit: int = 10
    max_limit: int = 10_000
    #: Cell size in degrees to which sensitive locations are generalised for the public.
    sensitive_cell_deg: float = 0.2
    #: CQL2 filters (docs/layers.md): nesting depth (at most 1000), parts (operators,
    #: properties, values), and vertices of all the literal geometries of one filter.
    filter_max_depth: int = Field(400, ge=1, le=1000)
    filter_max_nodes: int = Field(2000, ge=1)
    filter_max_vertices: int = Field(1000, ge=4)
    #: Statement timeout of filtered reads by anonymous callers; logged-in callers have
    #: ``database.statement_timeout_ms``.
    anonymous_statement_timeout_ms: int = Field(5_000, ge=1)
    #: Longest filter text an anonymous caller may send (parsing and translating one is pure
    #: Python, about 16 µs of CPU a character, holding the interpreter); logged-in callers
    #: may send up to 20,000 characters.
    anonymous_filter_max_chars: int = Field(1_000, ge=100, le=20_000)
    #: Filtered requests (items, downloads) one client may have running at once (429 beyond
    #: that); 0 lifts the limit.
    max_filtered_per_client: int = Field(2, ge=0)


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
    #: Limits are inclusive: N is accepted, N + 1 refused.
    max_vertices: int = 200_000
    #: Longest attribute value (characters) in an uploaded file.
    max_attribute_chars: int = 20_000
    max_photo_bytes: int = 10 * 1024 * 1024
    #: Largest share of a field site's area that may lie outside the programme countries.
    max_outside_share: float = Field(0.01, ge=0.0, le=1.0)
    #: Largest change of a site's area by repairing its geometry (share of the larger of the
    #: areas before and after); beyond it the upload needs ``confirm_repairs=true``.
    max_repair_change: float = Field(0.10, ge=0.0, le=1.0)


class ServerSettings(BaseSettings):
    """How long a client may take, and how much the server holds (see ``irbis serve``)."""

    model_config = SettingsConfigDict(env_prefix="IRBIS_SERVER_", extra="ignore")

    #: Seconds a client may take to send a request's headers (from connecting, or from the
    #: end of the previous response) before the connection is closed.
    header_timeout: float = 10.0
    #: Seconds the server waits for each chunk of a request body before answering 408.
    body_timeout: float = 30.0
    #: Seconds an idle keep-alive connection stays open.
    keep_alive_timeout: int = 5
    #: Largest request line plus headers, in bytes.
    max_header_bytes: int = 16 * 1024
    #: Connections served at once per process; beyond this uvicorn answers 503.
    limit_concurrency: int | None = 1000
    #: Long runs (planning grids, scenarios, analyses asked asynchronously) worked at once by
    #: each process, each on a thread of its own, and how many more may wait there; beyond,
    #: a new run is refused with 503 and Retry-After, nothing stored.
    background_runs: int = Field(1, ge=1, le=8)
    background_queue: int = Field(16, ge=0, le=1000)
    #: Addresses or networks (``10.0.0.0/8``) of the reverse proxies in front of Irbis: only
    #: a request from one of them is taken to come from the address its ``X-Forwarded-For``
    #: names (and its ``X-Forwarded-Proto``). Empty: the connection's own address is the
    #: client's. Comma-separated in the environment.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        if isinstance(v, str):
            return [h.strip() for h in v.split(",") if h.strip()]
        return v


class RateLimitSettings(BaseSettings):
    """Request rate limits (``limits`` notation: ``"10/minute;100/hour"``)."""

    model_config = SettingsConfigDict(env_prefix="IRBIS_RATELIMIT_", extra="ignore")

    enabled: bool = True
    #: Where counters live: ``memory://`` (one process) or a shared store for several
    #: processes, e.g. ``redis://host:6379`` or ``memcached://host:11211``.
    storage_uri: str = "memory://"
    #: Login attempts per client address.
    login: str = "20/minute;200/hour"
    #: API tokens created per account.
    tokens: str = "20/hour"
    #: Other writes (POST, PUT, PATCH, DELETE) per account, or per address when anonymous.
    writes: str = "120/minute"
    #: Failed logins for one account from one address before each further one doubles a wait.
    login_free_failures: int = 5
    #: Failed logins from one address (any accounts) before the same back-off applies to it.
    client_free_failures: int = 20
    #: The first wait, in seconds, and the longest.
    login_backoff_seconds: float = 2.0
    login_backoff_max_seconds: float = 900.0
    #: Failures are forgotten this many seconds after the first one.
    login_failure_window_seconds: int = 3600
    #: Refusals (401, 403, 413, 429) of one client's writes and heavy requests answered at
    #: once in a window (``api.refusals``); each further one is answered after a hold that
    #: starts at ``refusal_hold_seconds`` and doubles up to ``refusal_hold_max_seconds``.
    refusals_free: int = Field(10, ge=0)
    refusal_window_seconds: int = Field(60, ge=1)
    refusal_hold_seconds: float = Field(0.25, ge=0, le=60)
    refusal_hold_max_seconds: float = Field(2.0, ge=0, le=60)
    #: Held refusals of one client waiting at once; beyond, answered at once, connection closed.
    refusal_waiting_max: int = Field(32, ge=1, le=1000)


class HeavySettings(BaseSettings):
    """Per-client bounds on heavy requests (``api.heavy``): filtered and bbox reads of items,
    downloads, analyses and their results, PDFs."""

    model_config = SettingsConfigDict(env_prefix="IRBIS_HEAVY_", extra="ignore")

    enabled: bool = True
    #: Heavy requests one client (an account, or else an address) may have running at once;
    #: beyond, 429 with ``Retry-After`` before the application does anything.
    concurrent: int = Field(2, ge=1, le=100)
    #: Of those, reads with a CQL2 ``filter`` one client that is not logged in (an address)
    #: may have running at once (parsing one holds the interpreter); 0: only ``concurrent``.
    anonymous_filters: int = Field(1, ge=0, le=100)
    #: Reads with a CQL2 ``filter`` that clients not logged in may have running at once in one
    #: process, whatever their addresses (many addresses can each run one); beyond, 503 with
    #: ``Retry-After`` (the server is busy, not the client at fault); 0: no such bound.
    #: Logged-in accounts are not counted.
    anonymous_filters_total: int = Field(4, ge=0, le=1000)
    #: Heavy requests one client may start in a time (``limits`` notation), counted in the
    #: rate-limit store (``IRBIS_RATELIMIT_STORAGE_URI``).
    rate: str = "120/minute"
    #: Of those, reads with a CQL2 ``filter`` one client that is not logged in (an address)
    #: may start in a time: each is parsed and translated in pure Python, holding the
    #: interpreter that serves every tile of the process (empty: only ``rate``).
    anonymous_filter_rate: str = "30/minute"
    #: A 429 is answered this many seconds after its request came (at most its Retry-After),
    #: so that a client that asks again at once is not answered again at once.
    hold_seconds: float = Field(5.0, ge=0, le=60)
    #: Refusals of one client that may wait so at once; beyond, they are answered at once.
    hold_max: int = Field(32, ge=1, le=1000)
    #: Roles whose accounts are not bounded (staff who run analyses and large exports).
    #: Comma-separated in the environment.
    exempt_roles: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["analyst", "admin"]
    )

    @field_validator("exempt_roles", mode="before")
    @classmethod
    def _split_roles(cls, v: object) -> object:
        if isinstance(v, str):
            return [h.strip() for h in v.split(",") if h.strip()]
        return v

    @field_validator("rate", "anonymous_filter_rate")
    @classmethod
    def _check_rate(cls, v: str) -> str:
        """Empty: no rate; else every part must parse (``"30/minute;300/hour"``)."""
        if v.strip():
            try:
                parse_many(v)
            except ValueError:
                raise ValueError(f"{v!r} is not a rate such as '30/minute;300/hour'") from None
        return v


class DossierSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_DOSSIER_", extra="ignore")

    #: Dossier PDFs rendered at once (each runs a headless Chromium).
    pdf_concurrency: int = Field(1, ge=1, le=8)
    #: Further PDF requests that may wait for a renderer; beyond, 503 with Retry-After.
    pdf_queue: int = Field(4, ge=0, le=100)


class GrantSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IRBIS_GRANTS_", extra="ignore")

    #: Published threats this close to a grant's field site (metres, geodesic) are shown on
    #: the grant's page and feed and in the portfolio's list of sites under threat.
    threat_distance_m: float = Field(10_000.0, gt=0, le=200_000)


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
    dossier: DossierSettings = Field(default_factory=DossierSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    ratelimit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    heavy: HeavySettings = Field(default_factory=HeavySettings)
    grants: GrantSettings = Field(default_factory=GrantSettings)

    @classmethod
    def for_database(cls, url: str, reader_url: str | None = None, **kwargs: object) -> Settings:
        """Settings for an explicit database (tests, scripts)."""
        return cls(database=DatabaseSettings(url=url, reader_url=reader_url), **kwargs)  # type: ignore[arg-type]
