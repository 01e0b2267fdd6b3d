"""Run the gateway: ``python -m api`` (uvicorn, JSON logs, settings from the environment)."""

import uvicorn

from api.main import create_app
from shopstream.logs import configure_logging
from shopstream.settings import get_settings


def main() -> None:
    settings = get_settings()
    configure_logging("gateway", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.ports.gateway,
        log_config=None,  # keep the JSON logging configured above
        access_log=False,  # the gateway's middleware logs each request with its trace id
        proxy_headers=False,
    )


if __name__ == "__main__":
    main()
