"""RabbitMQ from Debian's packages: AMQP and MQTT, standing in for Amazon MQ.

Its own node name, ports, Erlang port mapper (epmd) and data folder, so it never meets a
system RabbitMQ. The stack starts epmd itself, so that ``down`` stops it too.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

from shopstream.health import Probe, amqp_connect, mqtt_connect
from stack.errors import StackError
from stack.part import Part, Progress
from stack.process import Daemon

SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
NODE_NAME = "shopstream@localhost"


class RabbitMQ(Part):
    name = "rabbitmq"

    @property
    def ports(self) -> dict[str, int]:
        ports = self.settings.ports
        return {
            "amqp": ports.amqp,
            "mqtt": ports.mqtt,
            "rabbitmq management": ports.rabbitmq_management,
            "erlang distribution": ports.rabbitmq_dist,
            "epmd": ports.epmd,
        }

    @property
    def address(self) -> str:
        ports = self.settings.ports
        return (
            f"amqp 127.0.0.1:{ports.amqp}, mqtt 127.0.0.1:{ports.mqtt}, "
            f"http://127.0.0.1:{ports.rabbitmq_management}"
        )

    @property
    def _erlang_env(self) -> dict[str, str]:
        return {
            "ERL_EPMD_PORT": str(self.settings.ports.epmd),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # The Erlang cookie lives in $HOME: keep ours apart from any other node's.
            "HOME": str(self.home),
        }

    @property
    def daemons(self) -> list[Daemon]:
        epmd = shutil.which("epmd") or "/usr/bin/epmd"
        env = {
            **self._erlang_env,
            "RABBITMQ_NODENAME": NODE_NAME,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.settings.ports.amqp),
            "RABBITMQ_DIST_PORT": str(self.settings.ports.rabbitmq_dist),
            "RABBITMQ_CONF_ENV_FILE": str(self.home / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(self.home / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.home / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(self.home / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.home / "log"),
            "RABBITMQ_LOGS": "-",
            "RABBITMQ_PID_FILE": str(self.home / "rabbitmq.pid"),
        }
        return [
            Daemon(
                name="epmd",
                argv=[epmd, "-port", str(self.settings.ports.epmd), "-address", "127.0.0.1"],
                run_dir=self.run_dir,
                log_path=self.log_path.with_name("epmd.log"),
                env=self._erlang_env,
            ),
            Daemon(
                name=self.name,
                argv=[str(SERVER)],
                run_dir=self.run_dir,
                log_path=self.log_path,
                env=env,
            ),
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("rabbitmq", amqp_connect), ("mqtt", mqtt_connect)]

    def install(self, progress: Progress) -> None:
        if not SERVER.exists():
            raise StackError(
                "rabbitmq: RabbitMQ not found; install it: apt-get install rabbitmq-server"
            )

    def prepare(self, progress: Progress) -> None:
        ports = self.settings.ports
        credentials = urlsplit(self.settings.amqp_url.get_secret_value())
        (self.home / "rabbitmq-env.conf").write_text("# environment comes from the stack\n")
        (self.home / "enabled_plugins").write_text("[rabbitmq_management,rabbitmq_mqtt].\n")
        (self.home / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"listeners.tcp.default = 127.0.0.1:{ports.amqp}",
                    f"mqtt.listeners.tcp.default = 127.0.0.1:{ports.mqtt}",
                    "mqtt.allow_anonymous = false",
                    "management.tcp.ip = 127.0.0.1",
                    f"management.tcp.port = {ports.rabbitmq_management}",
                    f"default_user = {credentials.username}",
                    f"default_pass = {credentials.password}",
                    "default_user_tags.administrator = true",
                    "loopback_users = none",
                    "log.console = true",
                    "log.console.formatter = json",
                    "log.file = false",
                    "vm_memory_high_watermark.absolute = 512MiB",
                    "disk_free_limit.absolute = 100MB",
                    "",
                ]
            )
        )
