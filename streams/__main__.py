"""Run a stream worker: ``python -m streams worker`` (Faust's command line), with the agents
of its roles (``worker_roles``)."""

import asyncio

import mode.loop

from shopstream.logs import configure_logging
from shopstream.settings import settings_at_start
from shopstream.tracing import configure_tracing


def main() -> None:
    # Before the app is imported: streams.app builds the Faust app from the settings as it is
    # imported, and a misspelt setting would stop the import with a traceback around its line.
    settings_at_start("python -m streams")
    from streams.agents import register
    from streams.app import app, changelog_topics, settings
    from streams.publisher import ensure_topics

    # uvloop: the worker's event loop runs every agent; Faust starts its own on this policy.
    mode.loop.use("uvloop")
    configure_logging("worker", settings.log_level)
    # One service per set of roles: the saga's workers, the projector.
    configure_tracing("-".join(("worker", *sorted(settings.worker_roles))), settings)
    register(settings.worker_roles)
    # Source topics and changelogs exist, with leaders, before Faust looks at them: Faust
    # compares their partition counts as it starts and stops on a topic it sees half-made.
    asyncio.run(ensure_topics(settings, changelog_topics()))
    app.main()


if __name__ == "__main__":
    main()
