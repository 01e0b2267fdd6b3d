"""Run a stream worker: ``python -m streams worker`` (Faust's command line)."""

from streams.app import app


def main() -> None:
    app.main()


if __name__ == "__main__":
    main()
