"""CloudWatch alarms for shopstream in AWS: ``python -m ops.cloudwatch DIR [MSK_CLUSTER]``.

Writes ``DIR/alarms.json``: one ``PutMetricAlarm`` request per alarm (apply each with
``aws cloudwatch put-metric-alarm --cli-input-json``), derived from the code so that a new
agent or channel gets its alarm:

- dead letters waiting: each notification channel's SQS dead-letter queue holds a message
  (``AWS/SQS ApproximateNumberOfMessagesVisible``), and so do the stream agents' dead-letter
  topic and the carrier link's AMQP dead-letter queue (``shopstream DeadLetters``, which
  ``shopstream dlq watch`` logs in the embedded metric format);
- consumer lag: for each consumer group (the saga worker's and the projector's) and each
  topic its agents read, MSK's estimate of how far behind the group is, in seconds
  (``AWS/Kafka EstimatedMaxTimeLag``, reported per consumer group and topic).
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from typing import Any, Final

from ops.dead_letters.watch import EMF_NAMESPACE
from shopstream.settings import PROJECTOR_ROLES, REPO_ROOT, Settings, settings_at_start
from streams import topics
from streams.agents import MODULES
from streams.carrier_topology import CarrierTopology
from streams.contract import Channel

LAG_ALARM_S: Final = 120  # minutes behind would mean orders waiting, not a burst
EVALUATION_PERIODS: Final = 5  # minutes in a row, so a rebalance does not page anyone


def consumed_topics(settings: Settings) -> dict[str, set[str]]:
    """Worker role -> the topics its agents read: ``channels.source(TOPIC, ..., tables=(TABLE,
    ...))`` and ``channels.changelog(TABLE)``, a table's changelog."""
    consumed: dict[str, set[str]] = {}
    for role, modules in MODULES.items():
        for module in modules:
            tree = ast.parse((REPO_ROOT / "streams" / "agents" / f"{module}.py").read_text())
            for node in ast.walk(tree):
                if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                    continue
                found = consumed.setdefault(role, set())
                if node.func.attr == "source":
                    for argument in node.args:
                        if isinstance(argument, ast.Name):
                            found.add(settings.topic_prefix + getattr(topics, argument.id).name)
                    for keyword in node.keywords:
                        if keyword.arg == "tables" and isinstance(keyword.value, ast.Tuple):
                            found |= _changelogs(settings, keyword.value.elts)
                if node.func.attr == "changelog":
                    found |= _changelogs(settings, node.args)
    return consumed


def _changelogs(settings: Settings, tables: list[ast.expr]) -> set[str]:
    names = (getattr(topics, table.id) for table in tables if isinstance(table, ast.Name))
    return {topics.changelog_topic(settings.worker_app_id, name) for name in names}


def consumer_group(settings: Settings, role: str) -> str:
    """The Kafka consumer group of a worker running ``role``: the saga's workers share the app
    id; the projector, which runs the other roles, is a group of its own
    (``streams.app.consumer_group``)."""
    if role == "saga":
        return settings.worker_app_id
    return "-".join((settings.worker_app_id, *sorted(PROJECTOR_ROLES)))


def _alarm(name: str, description: str, **metric: Any) -> dict[str, Any]:
    return {
        "AlarmName": name,
        "AlarmDescription": description,
        "ActionsEnabled": True,
        "AlarmActions": [],  # the platform adds its SNS topic for pages
        "Statistic": "Maximum",
        "Period": 60,
        "EvaluationPeriods": EVALUATION_PERIODS,
        "DatapointsToAlarm": EVALUATION_PERIODS,
        "TreatMissingData": "notBreaching",
        **metric,
    }


def _dead_letters_alarm(queue: str, what: str, **metric: Any) -> dict[str, Any]:
    """Paged at the first dead letter: each one is something that needs a person."""
    name = queue.removeprefix("sqs/").replace("/", "-")
    return _alarm(
        f"shopstream-dead-letters-{name}",
        f"{queue} holds {what}: `shopstream dlq show {queue}`, then redrive",
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Threshold=1,
        EvaluationPeriods=1,
        DatapointsToAlarm=1,
        **metric,
    )


def alarms(settings: Settings, cluster: str) -> list[dict[str, Any]]:
    found = []
    for channel in sorted(Channel):
        queue = f"{settings.notification_queue_prefix}{channel.value}-dlq"
        found.append(
            _dead_letters_alarm(
                f"sqs/{queue}",
                "notifications that failed every delivery",
                Namespace="AWS/SQS",
                MetricName="ApproximateNumberOfMessagesVisible",
                Dimensions=[{"Name": "QueueName", "Value": queue}],
            )
        )
    others = (
        f"kafka/{settings.topic_prefix}{topics.DEAD_LETTERS.name}",
        f"amqp/{CarrierTopology(settings.topic_prefix).dead_letter_queue}",
    )
    for queue in others:
        found.append(
            _dead_letters_alarm(
                queue,
                "records that could not be processed",
                Namespace=EMF_NAMESPACE,
                MetricName="DeadLetters",
                Dimensions=[{"Name": "Queue", "Value": queue}],
            )
        )
    by_group: dict[str, set[str]] = {}
    for role, consumed in consumed_topics(settings).items():
        by_group.setdefault(consumer_group(settings, role), set()).update(consumed)
    for group, consumed in sorted(by_group.items()):
        workers = "saga worker" if group == settings.worker_app_id else "projector"
        for name in sorted(consumed):
            found.append(
                _alarm(
                    f"shopstream-consumer-lag-{group}-{name}",
                    f"consumer group {group} is over {LAG_ALARM_S}s behind on {name}: scale "
                    f"the {workers}s (up to the partitions) or look for a stuck one",
                    Namespace="AWS/Kafka",
                    MetricName="EstimatedMaxTimeLag",
                    Dimensions=[
                        {"Name": "Cluster Name", "Value": cluster},
                        {"Name": "Consumer Group", "Value": group},
                        {"Name": "Topic", "Value": name},
                    ],
                    ComparisonOperator="GreaterThanThreshold",
                    Threshold=LAG_ALARM_S,
                )
            )
    return found


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2):
        print("usage: python -m ops.cloudwatch DIR [MSK_CLUSTER]", file=sys.stderr)
        return 2
    directory = Path(argv[0])
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "alarms.json"
    cluster = argv[1] if len(argv) == 2 else "shopstream"
    settings = settings_at_start("python -m ops.cloudwatch")
    path.write_text(json.dumps(alarms(settings, cluster), indent=2) + "\n")
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
