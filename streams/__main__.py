"""Run a stream worker: ``python -m streams worker`` (Faust's command line)."""

import streams.agents  # noqa: F401 - registers the agents with the app
from shopstream.logs import configure_logging
from streams.app import app, settings


def main() -> None:
    configure_logging("worker", settings.log_level)
    app.main()


if __name__ == "__main__":
    main()
