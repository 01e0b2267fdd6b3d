"""Dead letters, operable: every dead-letter topic and queue of the system behind one shape.

    kafka/<topic>  the stream agents' dead-letter topic (``streams.topics.DEAD_LETTERS``);
    sqs/<queue>    every SQS queue another queue's RedrivePolicy points at (found through the
                   SQS API, never by name);
    amqp/<queue>   the carrier link's dead-letter queue.

Each one can be summarised (count, age of the oldest), shown (reason, source, bytes), redriven
(sent back to where it came from, then removed) and purged. ``shopstream dlq`` is the command
line over this; ``watch`` exports the summaries as Prometheus gauges.
"""

from __future__ import annotations

from ops.dead_letters.model import DeadLetter, DeadLetterQueue, Summary

__all__ = ["DeadLetter", "DeadLetterQueue", "Summary"]
