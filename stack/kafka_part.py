"""Apache Kafka in KRaft mode: one combined broker/controller node from Maven Central jars."""

from __future__ import annotations

import base64
import shutil
import uuid
from pathlib import Path

from shopstream.health import Probe, kafka_round_trip
from stack.errors import StackError
from stack.part import Part, Progress
from stack.process import Daemon, run_checked

RESOURCES = Path(__file__).resolve().parent / "kafka"


def java() -> str:
    path = shutil.which("java")
    if path is None:
        raise StackError(
            "kafka: `java` not found; install Java 17: apt-get install openjdk-17-jre-headless"
        )
    return path


class Kafka(Part):
    name = "kafka"

    @property
    def libs(self) -> Path:
        return self.settings.cache_dir / "kafka" / self.settings.kafka_version / "libs"

    @property
    def ports(self) -> dict[str, int]:
        return {
            "kafka": self.settings.ports.kafka,
            "kafka controller": self.settings.ports.kafka_controller,
        }

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.settings.ports.kafka}"

    @property
    def config_path(self) -> Path:
        return self.home / "server.properties"

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[
                    java(),
                    f"-Xms{self.settings.kafka_heap}",
                    f"-Xmx{self.settings.kafka_heap}",
                    "-XX:+UseG1GC",
                    "-XX:MaxGCPauseMillis=20",
                    "-Djava.awt.headless=true",
                    f"-Dlog4j2.configurationFile={RESOURCES / 'log4j2.xml'}",
                    "-cp",
                    f"{self.libs}/*",
                    "kafka.Kafka",
                    str(self.config_path),
                ],
                run_dir=self.run_dir,
                log_path=self.log_path,
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("kafka", kafka_round_trip)]

    def install(self, progress: Progress) -> None:
        stamp = self.libs.parent / ".complete"
        if stamp.exists():
            return
        if shutil.which("mvn") is None:
            raise StackError("kafka: `mvn` not found; install Maven: apt-get install maven")
        progress(f"downloading Kafka {self.settings.kafka_version} jars from Maven Central")
        shutil.rmtree(self.libs, ignore_errors=True)
        run_checked(
            [
                "mvn",
                "-B",
                "-q",
                "-f",
                str(RESOURCES / "pom.xml"),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={self.libs}",
                f"-Dkafka.version={self.settings.kafka_version}",
                f"-Dlog4j.version={self.settings.log4j_version}",
            ],
            "kafka: collecting the jars with Maven",
        )
        stamp.write_text(f"{len(list(self.libs.glob('*.jar')))} jars\n")

    def prepare(self, progress: Progress) -> None:
        ports = self.settings.ports
        data = self.home / "data"
        self.config_path.write_text(
            "\n".join(
                [
                    "process.roles=broker,controller",
                    "node.id=1",
                    f"controller.quorum.voters=1@127.0.0.1:{ports.kafka_controller}",
                    f"listeners=PLAINTEXT://127.0.0.1:{ports.kafka},"
                    f"CONTROLLER://127.0.0.1:{ports.kafka_controller}",
                    f"advertised.listeners=PLAINTEXT://127.0.0.1:{ports.kafka}",
                    "controller.listener.names=CONTROLLER",
                    "inter.broker.listener.name=PLAINTEXT",
                    "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                    f"log.dirs={data}",
                    f"num.partitions={self.settings.topic_partitions}",
                    # Topics are declared by the code (and the operator), never made by accident.
                    "auto.create.topics.enable=false",
                    "offsets.topic.replication.factor=1",
                    "offsets.topic.num.partitions=8",
                    "transaction.state.log.replication.factor=1",
                    "transaction.state.log.min.isr=1",
                    "share.coordinator.state.topic.replication.factor=1",
                    "share.coordinator.state.topic.min.isr=1",
                    "group.initial.rebalance.delay.ms=0",
                    "num.network.threads=2",
                    "num.io.threads=4",
                    "",
                ]
            )
        )
        if (data / "meta.properties").exists():
            return
        progress("formatting Kafka's storage (KRaft)")
        # Kafka's cluster ids are 16 random bytes in URL-safe base64 without padding.
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        run_checked(
            [
                java(),
                f"-Dlog4j2.configurationFile={RESOURCES / 'log4j2.xml'}",
                "-cp",
                f"{self.libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(self.config_path),
                "--ignore-formatted",
            ],
            "kafka: formatting storage",
        )
