"""Run a stream worker: ``python -m streams worker`` (Faust's command line)."""

import asyncio

import streams.agents  # noqa: F401 - registers the agents with the app
from shopstream.logs import configure_logging
from streams.app import app, changelog_topics, settings
from streams.publisher import ensure_topics


def main() -> None:
    configure_logging("worker", settings.log_level)
    # Source topics and changelogs exist, with leaders, before Faust looks at them: Faust
    # compares their partition counts as it starts and stops on a topic it sees half-made.
    asyncio.run(ensure_topics(settings, changelog_topics()))
    app.main()


if __name__ == "__main__":
    main()
