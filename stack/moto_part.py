"""moto in server mode: SQS, SNS, DynamoDB, CloudWatch, IAM, S3, STS and Lambda's API."""

from __future__ import annotations

import sys

from shopstream.health import Probe, aws_identity
from stack.part import Part
from stack.process import Daemon


class Moto(Part):
    name = "moto"

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.settings.ports.moto}"

    @property
    def ports(self) -> dict[str, int]:
        return {"moto": self.settings.ports.moto}

    @property
    def address(self) -> str:
        return self.endpoint_url

    @property
    def daemons(self) -> list[Daemon]:
        return [
            Daemon(
                name=self.name,
                argv=[
                    sys.executable,
                    "-m",
                    "moto.server",
                    "-H",
                    "127.0.0.1",
                    "-p",
                    str(self.settings.ports.moto),
                ],
                run_dir=self.run_dir,
                log_path=self.log_path,
            )
        ]

    @property
    def probes(self) -> list[tuple[str, Probe]]:
        return [("aws", aws_identity)]
