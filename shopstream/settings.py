"""The one typed settings object. Nothing else in the project reads the environment.

Every field can be set as ``SHOPSTREAM_<FIELD>`` (nested: ``SHOPSTREAM_PORTS__KAFKA``);
``docs/configuration.md`` lists them all (``python -m shopstream.config_reference`` writes it).
Any other ``SHOPSTREAM_*`` variable stops the process at its start, naming the closest valid
name: a misspelt setting would otherwise be ignored, silently.

Service addresses default to the local stack on loopback, built from ``ports`` (the one place
a local port is chosen) unless set explicitly; ``aws_endpoint_url`` defaults to unset so that
the same code talks to real AWS unless the local stack (or a test) points it at the moto
server.
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from re import Pattern
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    Field,
    IPvAnyNetwork,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent

# The agents a worker runs, by role (``streams.agents.MODULES``).
WorkerRole = Literal["saga", "notifications", "projections"]
# The worker's roles when none are named: the saga. The projector runs the roles that follow
# the saga's table changelogs, in a consumer group of their own.
DEFAULT_WORKER_ROLES: tuple[WorkerRole, ...] = ("saga",)
PROJECTOR_ROLES: tuple[WorkerRole, ...] = ("projections", "notifications")


class StackPorts(BaseModel):
    """Loopback ports of the local stack, each process's own included: one block (26xxx) clear
    of the services' defaults, but for the gateway's, the address developers open."""

    kafka: int = 26092
    kafka_controller: int = 26093
    postgres: int = 26432
    amqp: int = 26672
    rabbitmq_management: int = 26673
    rabbitmq_dist: int = 26674
    epmd: int = 26369
    mqtt: int = 26883
    smtp: int = 26025
    moto: int = 26500
    gateway: int = 8000
    # Faust's web server of the saga's worker and of the projector: their metrics.
    worker_web: int = 26066
    projector_web: int = 26070
    # Prometheus metrics of the carrier simulator, the dead-letter watch, the delivery workers.
    carrier_simulator_metrics: int = 26067
    dead_letter_watch_metrics: int = 26068
    delivery_metrics: int = 26069
    kube_apiserver: int = 26443
    etcd_client: int = 26379
    etcd_peer: int = 26380
    operator_metrics: int = 26081


def local_addresses(ports: StackPorts) -> dict[str, Any]:
    """Where the local stack's services are, from its ports: each setting's value unless the
    setting is given (by the environment or by the caller)."""
    return {
        "kafka_bootstrap_servers": f"127.0.0.1:{ports.kafka}",
        "database_url": f"postgresql://shopstream:shopstream@127.0.0.1:{ports.postgres}/shopstream",
        "amqp_url": f"amqp://shopstream:shopstream@127.0.0.1:{ports.amqp}//",
        "mqtt_port": ports.mqtt,
        "smtp_port": ports.smtp,
        "notification_order_url": f"http://127.0.0.1:{ports.gateway}/orders/{{order_id}}",
    }


# The defaults of those settings: the addresses of the default ports.
_LOCAL_STACK: Final = local_addresses(StackPorts())


ENV_PREFIX: Final = "SHOPSTREAM_"
NESTED_DELIMITER: Final = "__"
# Settings of earlier releases, and the settings that took their place.
RENAMED: Final = {
    "SHOPSTREAM_CARRIER_SIMULATOR_METRICS_PORT": "SHOPSTREAM_PORTS__CARRIER_SIMULATOR_METRICS",
    "SHOPSTREAM_DEAD_LETTER_WATCH_PORT": "SHOPSTREAM_PORTS__DEAD_LETTER_WATCH_METRICS",
    "SHOPSTREAM_DELIVERY_METRICS_PORT": "SHOPSTREAM_PORTS__DELIVERY_METRICS",
}
# Variables of the prefix that are no setting, and who reads them.
NOT_SETTINGS: Final = {
    "SHOPSTREAM_CACHE": "stack/kube/build-*.sh: the build scripts' cache root",
}
# What Kubernetes puts in every pod for each Service of its namespace (service links): a
# Service named shopstream-gateway gives SHOPSTREAM_GATEWAY_SERVICE_HOST, _PORT and so on.
_SERVICE_LINK = re.compile(
    r"^SHOPSTREAM(?:_\w+)?_(?:SERVICE_HOST|SERVICE_PORT(?:_\w+)?"
    r"|PORT_\d+_(?:TCP|UDP|SCTP)(?:_PROTO|_PORT|_ADDR)?)$"
)
_SERVICE_LINK_URL = re.compile(r"^(?:tcp|udp|sctp)://")


class UnknownSettingError(Exception):
    """A ``SHOPSTREAM_*`` variable that names no setting: a typo the process must not ignore."""


def setting_names() -> list[str]:
    """Every environment variable a setting can be read from."""
    names = []
    for name, field in Settings.model_fields.items():
        names.append(ENV_PREFIX + name.upper())
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            names.extend(
                f"{ENV_PREFIX}{name.upper()}{NESTED_DELIMITER}{sub.upper()}"
                for sub in field.annotation.model_fields
            )
    return names


def unknown_settings(environ: Mapping[str, str]) -> list[str]:
    """One line for each ``SHOPSTREAM_*`` variable of ``environ`` that is no setting."""
    valid = setting_names()
    known = set(valid) | set(NOT_SETTINGS)
    lines = []
    for variable, value in sorted(environ.items()):
        name = variable.upper()
        if not name.startswith(ENV_PREFIX) or name in known:
            continue
        if _SERVICE_LINK.match(name) or (name.endswith("_PORT") and _SERVICE_LINK_URL.match(value)):
            continue
        if name in RENAMED:
            lines.append(f"{variable} is not a setting any more; it is now {RENAMED[name]}")
            continue
        # Compared without the prefix, which every name shares.
        closest = difflib.get_close_matches(
            name.removeprefix(ENV_PREFIX), [v.removeprefix(ENV_PREFIX) for v in valid], n=1
        )
        hint = f"did you mean {ENV_PREFIX}{closest[0]}?" if closest else "see docs/configuration.md"
        lines.append(f"{variable} is not a setting; {hint}")
    return lines


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SHOPSTREAM_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    # Where this process runs ("local", "staging", "production", ...). Unset means unknown, and
    # the gateway then fails closed: it refuses the local default signing key. The local stack
    # and the tests set "local" (stack.environment).
    environment: str | None = None
    log_level: str = "INFO"

    # Where the local stack keeps its data (ignored by git) and its one-time downloads/builds.
    state_dir: Path = REPO_ROOT / ".stack"
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "shopstream")
    ports: StackPorts = StackPorts()

    kafka_version: str = "4.1.1"
    log4j_version: str = "2.25.3"
    kafka_heap: str = "512m"
    # Kafka's brokers, host:port[,host:port]. Unset: the local stack's (``local_addresses``).
    kafka_bootstrap_servers: str = _LOCAL_STACK["kafka_bootstrap_servers"]
    topic_partitions: int = 4
    topic_replication_factor: int = 1
    # Prepended to every topic name, and the worker's consumer group / table namespace: two
    # systems (a test run beside a developer's) can share one Kafka cluster.
    topic_prefix: str = ""
    worker_app_id: str = "shopstream"
    # How long a table changelog's record is kept whole before compaction may drop it: each
    # write of an order's row carries news (status changes) its followers must all read.
    changelog_min_compaction_lag_s: float = 7 * 24 * 3600
    worker_data_dir: Path | None = None  # RocksDB tables; default: <state_dir>/worker
    # Which agents this worker runs: one image, several deployments. The saga's workers run the
    # saga; the projections and the notifications, which follow the saga's table changelogs,
    # run in workers of their own (the projector runs both). A JSON list in the environment,
    # e.g. SHOPSTREAM_WORKER_ROLES='["projections", "notifications"]'.
    worker_roles: frozenset[WorkerRole] = frozenset({"saga"})

    @field_validator("worker_roles")
    @classmethod
    def _roles_that_share_a_worker(cls, roles: frozenset[WorkerRole]) -> frozenset[WorkerRole]:
        # A worker reads its own tables' changelogs only to restore them, never as streams.
        for follower in ("projections", "notifications"):
            if follower in roles and "saga" in roles:
                raise ValueError(
                    f"the {follower} role follows the saga's changelogs, so it runs in a "
                    "worker of its own, not beside the saga"
                )
        return roles

    # A worker that dies without leaving its group holds its partitions this long: the time
    # to fail over. Heartbeats go every third of it.
    worker_session_timeout_s: float = 10.0
    # An agent applies at most this many records per batch: its outputs are awaited once per
    # batch, its rows stored after them (streams.agents.processing).
    agent_batch_size: int = 500
    # How long the worker's producer waits for more records before it sends a request: the
    # agents' batches, the tables' changelog rows and the dead letters then share requests
    # (a request is a system call and a broker round of its own). Each hop of an order waits
    # up to this much more.
    worker_producer_linger_s: float = 0.0
    # Rows an agent keeps decoded per table, from one batch to the next: a busy key (a SKU
    # that many orders hold) is then parsed again only when its stored bytes change.
    agent_row_cache_size: int = 10_000
    # How long a fetch waits at the broker for records to arrive. Faust's 1.5 s held records
    # of partitions with data back while a fetch for quiet ones was pending; much less than
    # 0.1 s costs an idle worker CPU (a fetch request every wait, for every partition).
    worker_fetch_max_wait_s: float = 0.1

    # PostgreSQL and RabbitMQ (AMQP) URLs, with their credentials. Unset: the local stack's.
    database_url: SecretStr = SecretStr(_LOCAL_STACK["database_url"])
    amqp_url: SecretStr = SecretStr(_LOCAL_STACK["amqp_url"])
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = _LOCAL_STACK["mqtt_port"]
    mqtt_username: str = "shopstream"
    mqtt_password: SecretStr = SecretStr("shopstream")

    # Unset: boto's normal endpoint resolution, i.e. real AWS.
    aws_endpoint_url: str | None = None
    aws_region: str = "us-east-1"

    # The payment function (AWS Lambda handler contract): run in-process ("local") or
    # through Lambda's Invoke API ("aws"); the provider behind it is chosen in the function.
    payment_invoker: Literal["local", "aws"] = "local"
    payment_provider: Literal["simulated", "stripe"] = "simulated"
    payment_function_name: str = "shopstream-payment"
    payment_timeout_s: float = 10.0
    payment_max_attempts: int = 4  # processing errors are retried with backoff, this often
    # Calls of the payment function under way at once in one worker (the local invoker's
    # threads; Lambda's reserved concurrency plays this part in AWS).
    payment_function_concurrency: int = 16
    stripe_api_key: SecretStr | None = None
    # A charge or refund the payment function left unanswered (after its attempts) is kept and
    # looked at again: a timer checks every payment_reconcile_interval_s which are due; the
    # first look comes that long after, each next one twice as long after the last, up to
    # payment_reconcile_max_wait_s apart. A charge is looked up, never made again to find out.
    payment_reconcile_interval_s: float = 5.0
    payment_reconcile_max_wait_s: float = 300.0
    # A charge the provider does not know of counts as never made (the order's payment failed)
    # only this long after it was last asked for: Stripe's search shows new charges within
    # about a minute.
    payment_reconcile_settle_s: float = 120.0
    # A refund the provider has not answered for this long is reported failed on its order
    # (RefundFailed, code "unavailable"), for an operator to retry.
    payment_unavailable_give_up_s: float = 300.0

    # Saga timing.
    reservation_ttl_s: float = 900.0
    max_shipping_attempts: int = 3
    expiry_check_interval_s: float = 5.0
    # The carrier is asked again after a problem, after this times 2^(attempt - 2) seconds.
    shipping_retry_backoff_s: float = 0.2

    # Projections.
    history_table: str = "shopstream-order-history"

    gateway_host: str = "127.0.0.1"
    worker_host: str = "127.0.0.1"

    # Tracing (docs/tracing.md). Spans go over OTLP/HTTP to this base URL's /v1/traces (a
    # collector's, e.g. http://127.0.0.1:4318). Unset: nothing is traced, and what is left of
    # tracing is a check per record.
    otlp_endpoint: str | None = None
    # The share of traces kept. Decided on the trace id, which is the event's: every process
    # keeps or drops the same orders' traces.
    tracing_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    # Finished spans wait this long at most before they are sent, many to a request.
    otlp_export_delay_s: float = Field(default=5.0, gt=0.0)

    @field_validator("otlp_endpoint")
    @classmethod
    def _an_http_endpoint(cls, endpoint: str | None) -> str | None:
        if endpoint is not None and not endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"the OTLP endpoint is an http:// or https:// URL, such as "
                f"http://127.0.0.1:4318 (got {endpoint!r})"
            )
        return endpoint

    # Readiness probes give up after this long per dependency.
    health_timeout_s: float = 5.0
    # The gateway's /readyz answers every caller from one check this long: a burst of probes
    # (or of anyone calling it) costs one round trip per dependency.
    readiness_cache_s: float = 2.0
    # How long the stack waits for one part to become healthy before it gives up.
    start_timeout_s: float = 120.0

    # Gateways.
    # Which routers this process serves: one image, several deployments. A JSON list in the
    # environment, e.g. SHOPSTREAM_GATEWAY_ROUTERS='["orders"]'. ``live`` (the browsers' live
    # streams) reads every order's events from Kafka, so it is best a deployment of its own.
    gateway_routers: frozenset[Literal["users", "products", "orders", "live"]] = frozenset(
        {"users", "products", "orders", "live"}
    )
    gateway_db_pool_size: int = 10
    # Signs access tokens (HS256) and, with a domain separator, refresh tokens. This default
    # serves the local stack only: the gateway refuses to start with it anywhere else.
    jwt_secret: SecretStr = SecretStr("local-only-gateway-signing-key-never-use-in-production")
    jwt_issuer: str = "shopstream"
    jwt_audience: str = "shopstream-api"
    access_token_ttl_s: int = 900
    refresh_token_ttl_s: int = 30 * 24 * 3600  # a session's whole life, however often rotated
    # argon2id as OWASP recommends (19 MiB, 2 passes, 1 lane). Each hash holds its memory and a
    # core for tens of milliseconds, so only this many run at once: logins queue, orders do not.
    password_hash_memory_kib: int = 19 * 1024
    password_hash_time_cost: int = 2
    password_hash_concurrency: int = 2
    password_hash_queue_timeout_s: float = 5.0
    sessions_table: str = "shopstream-sessions"
    # Idempotency keys live in PostgreSQL; this DynamoDB table is where earlier releases kept
    # them, read only by `python -m api import-idempotency-keys` (docs/idempotency.md).
    idempotency_table: str = "shopstream-idempotency"
    idempotency_ttl_s: int = 24 * 3600
    idempotency_sweep_interval_s: float = 300.0
    rate_limit_table: str = "shopstream-rate-limits"
    rate_limit_window_s: int = 60
    login_attempts_per_window: int = 10  # per client address and email: guessing one password
    # Per client address, whatever the email: spraying one password over many accounts. Also
    # what keeps one client from holding the password hasher's few slots (a hash costs tens of
    # milliseconds; this many per window is a small share of one process's hashing).
    login_attempts_per_address_per_window: int = 30
    registrations_per_window: int = 20  # per client address
    password_changes_per_window: int = 5  # per user
    # Per user: requests to the saga about one's orders (each is an event and a read).
    order_cancellations_per_window: int = 10
    payment_retries_per_window: int = 10
    address_changes_per_window: int = 10
    # Verifying the addresses notifications go to: a code sent there, typed back. How long a
    # code is accepted.
    verification_code_ttl_s: int = 600
    verification_code_max_attempts: int = 5  # wrong tries that spend a code
    verification_attempts_per_window: int = 10  # per user: codes typed, whatever the code
    # Codes cost money (an SMS) and reach strangers (any address can be typed in), so sending
    # them is limited per user and per address, counted over this window of its own.
    verification_sends_window_s: int = 3600
    verification_sends_per_user_per_window: int = 5  # per user: codes sent, to any address
    verification_sends_per_address_per_window: int = 3  # per address: codes sent, by anyone
    # Proxies (addresses or networks) whose X-Forwarded-For names the client: the load
    # balancer in front of the gateways. Nobody else's is believed (api.clients). A JSON list
    # in the environment, e.g. SHOPSTREAM_TRUSTED_PROXIES='["10.0.0.0/8"]'.
    trusted_proxies: tuple[IPvAnyNetwork, ...] = ()
    product_images_bucket: str = "shopstream-product-images"
    # Public base of image URLs (a CDN, say); unset: the bucket's own endpoint.
    product_images_base_url: str | None = None
    max_body_bytes: int = 64 * 1024  # per request; image uploads have their own cap
    shop_currency: str = "EUR"

    # Carrier link.
    # Shipment requests go to the carrier over AMQP (``amqp_url``); its replies come back on a
    # queue of ours. A request unanswered this long is sent again, at most this often; then the
    # attempt is reported as a shipping problem. The timer looks for such requests this often.
    carrier_reply_timeout_s: float = 10.0
    carrier_max_requests: int = 3
    carrier_overdue_check_interval_s: float = 1.0
    # Unacknowledged messages one consumer holds at a time.
    carrier_prefetch: int = 16
    # A carrier reply not handed to Kafka within this long is requeued (Kafka away, say).
    carrier_handoff_timeout_s: float = 60.0
    # The carrier simulator (``python -m streams.carrier_simulator``): its name on labels and
    # how long after dispatch it reports delivery.
    carrier_name: str = "SimPost"
    carrier_delivery_delay_s: float = 2.0

    # Dead letters.
    # The consumer group whose committed offsets on the dead-letter topic mark what operators
    # have redriven or purged (prefixed like the topics).
    dead_letter_ops_group: str = "shopstream-dead-letter-ops"
    # How often ``shopstream dlq watch`` counts every dead-letter queue.
    dead_letter_watch_interval_s: float = 30.0
    # Also log the figures in CloudWatch's embedded metric format (on in AWS, by the chart).
    dead_letter_watch_emf: bool = False

    # Notifications.
    # SNS topic the notification agent publishes to; one SQS queue per channel subscribes to it
    # (filter policy on the ``channel`` attribute), each with its dead-letter queue.
    notifications_topic: str = "shopstream-notifications"
    notification_queue_prefix: str = "shopstream-notifications-"  # + email, sms, push (+ -dlq)
    # Receives before SQS moves a message to the dead-letter queue.
    notification_max_receives: int = 5
    # Well above a handler's p99 (a claim, a send and a mark: tens of milliseconds here), and
    # the receive loop gives a send up after half of it: a message is never handed to a second
    # worker while the first is still sending it.
    notification_visibility_timeout_s: int = 30
    notification_wait_time_s: int = 20  # long polling, SQS's maximum
    notification_batch_size: int = 10  # SQS's maximum per receive
    # A failed message becomes visible again after this times 2^(receives - 1), capped at 15
    # minutes: the retry backoff, kept by SQS rather than by a sleeping worker.
    notification_retry_backoff_s: int = 2
    # Delivered notifications by id (event and channel): what keeps redeliveries from sending
    # twice. A claim taken before a send lapses after the visibility timeout, when SQS hands
    # the message of a worker that died mid-send to another.
    notification_deliveries_table: str = "shopstream-notification-deliveries"
    # How long a sent mark is kept (DynamoDB TTL): longer than any copy can still arrive (SQS
    # keeps a message 14 days at most).
    notification_dedupe_ttl_s: int = 15 * 24 * 3600
    # The order page each notification links to (``{order_id}`` is filled in).
    notification_order_url: str = _LOCAL_STACK["notification_order_url"]
    smtp_host: str = "127.0.0.1"
    smtp_port: int = _LOCAL_STACK["smtp_port"]
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = 10.0
    mail_from: str = "shopstream <orders@shopstream.example>"
    # Push: one MQTT topic per user, the last status retained for clients that connect later.
    push_topic: str = "shopstream/users/{user_id}/notifications"

    # Catalog outbox.
    # The relay (api.outbox) wakes at once for this process's own writes; this interval is for
    # rows left by other processes or by a crash between a commit and its send.
    outbox_poll_interval_s: float = 1.0
    outbox_batch_size: int = 100
    outbox_retention_s: float = 7 * 24 * 3600  # how long sent rows are kept

    # Gateway request path.
    # Access tokens remembered once verified, per process (a few hundred bytes each).
    access_token_cache_size: int = 10_000

    # Projection batches.
    # The read models are written in batches of up to this many records, gathered for at
    # most this long: one round trip to PostgreSQL or two to DynamoDB per batch, not per event.
    projection_batch_size: int = 100
    projection_batch_window_s: float = 0.25

    # Storefront.
    # The web pages and their assets (api/storefront), served beside the REST routers.
    storefront_enabled: bool = True
    # `shopstream run` loads the demo shop (api/demo.toml: a small catalog with stock, a
    # customer and an admin whose passwords it prints) so that a first run has something to
    # show. Local only: the demo's passwords are public. SHOPSTREAM_DEMO=0 starts empty.
    demo: bool = True
    # The live stream (SSE) starts reading Kafka this far back, and keeps the events it saw for
    # this long: a browser reconnecting, even across a gateway restart, finds what it missed.
    live_replay_window_s: float = 120.0
    # A resumed order stream also repeats the events that occurred this long before the last
    # one the browser saw (the history may have stored them after it; browsers dedupe).
    live_resume_overlap_s: float = 2.0
    # A comment line this often keeps proxies from closing an idle stream.
    live_keepalive_s: float = 15.0
    # Events waiting for one slow browser; past this it is disconnected and resumes from history.
    live_subscriber_queue: int = 256
    # Browsers are told to reconnect after this long when a stream ends.
    live_retry_ms: int = 1000
    # How long a stopping gateway lets open requests (live streams above all) finish.
    gateway_shutdown_grace_s: int = 3
    cart_max_lines: int = 50

    # Messaging operator.
    # What an SnsTopic may subscribe: whoever may create one in a namespace could otherwise
    # send every message of the topic anywhere. Protocols allowed at all (an SQS queue of the
    # resource's own namespace, by queueRef, by default), and for a subscription that names its
    # endpoint (``endpoint``, not ``queueRef``), patterns one of which the whole endpoint must
    # match, e.g. SHOPSTREAM_OPERATOR_SNS_ENDPOINT_PATTERNS='["https://hooks[.]example[.]com/.*"]'.
    operator_sns_protocols: frozenset[str] = frozenset({"sqs"})
    operator_sns_endpoint_patterns: tuple[Pattern[str], ...] = ()

    @model_validator(mode="before")
    @classmethod
    def _known_variables_and_addresses_from_ports(cls, data: Any) -> Any:
        problems = unknown_settings(os.environ)
        if problems:
            raise UnknownSettingError("\n".join(problems))
        if isinstance(data, dict):
            try:
                ports = StackPorts.model_validate(data.get("ports", {}))
            except ValidationError:
                return data  # the field's own validation reports it, under the field's name
            for name, value in local_addresses(ports).items():
                data.setdefault(name, value)
        return data

    @property
    def is_deployed(self) -> bool:
        """Named as an environment other than the local one (staging, production, ...):
        nothing may point at the local stack there. Unset is a developer's shell or a test,
        where the local stack is the default."""
        return self.environment not in (None, "local")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def settings_at_start(program: str) -> Settings:
    """The settings, for a process's entry point. A misspelt or invalid setting is a usage
    error: one line per problem on stderr and exit status 2, for whoever starts the process
    (a shell, a Pod's log) to read at a glance, never a traceback around it."""
    try:
        return get_settings()
    except UnknownSettingError as unknown:
        problems = str(unknown).splitlines()
    except ValidationError as invalid:
        problems = [_setting_problem(error) for error in invalid.errors()]
    for problem in problems:
        print(f"{program}: error: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(2)


def _setting_problem(error: ErrorDetails) -> str:
    """One of pydantic's errors as a line naming the variable it came from."""
    location = [str(part) for part in error["loc"]]
    variable = ENV_PREFIX + NESTED_DELIMITER.join(location).upper() if location else "settings"
    return f"{variable}: {error['msg']}"
