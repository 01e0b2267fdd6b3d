# The two commands of the quick start are `make run` and `make test`; the rest are their parts.
.PHONY: run test stop install stack-up stack-down status logs lint format image helm lambda aws

install:  ## Debian packages and the Python environment (idempotent, cached)
	@./stack/bootstrap.sh

run: install  ## the whole system in the foreground: stack, worker, gateway (Ctrl-C stops it)
	@.venv/bin/shopstream run

stop:  ## stop everything `run` or `stack-up` started
	@if [ -x .venv/bin/shopstream ]; then .venv/bin/shopstream stop; fi

test: install stack-up lint  ## lint, type-check and every test against the real stack
	@.venv/bin/pytest

image: install  ## the container image, built with buildah (no daemon) on a local Debian base
	@deploy/image/build-image.sh

helm:  ## helm, built once from its Go module and cached
	@stack/kube/build-helm.sh

lambda: install  ## the payment function as a Lambda zip: build/lambda/payment-function.zip
	@.venv/bin/python -c 'import pathlib, streams.adapters.payment_package as p; \
	  print(p.build_package(pathlib.Path("build/lambda"), with_stripe=True))'

aws: install  ## regenerate deploy/aws: the API Gateway import and the CloudWatch alarms
	@.venv/bin/python -m ops.apigateway deploy/aws/apigateway
	@.venv/bin/python -m ops.cloudwatch deploy/aws/cloudwatch

lint: install  ## ruff, mypy, import layers, the Dockerfile, the gateway's OpenAPI document
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy
	@.venv/bin/lint-imports
	@.venv/bin/hadolint Dockerfile
	@mkdir -p build && .venv/bin/python -m api openapi > build/openapi.json
	@.venv/bin/spectral lint --ruleset lint/spectral.yaml --fail-severity warn build/openapi.json

format:
	@.venv/bin/ruff format .
	@.venv/bin/ruff check --fix .

stack-up: install
	@.venv/bin/shopstream stack up

stack-down:
	@if [ -x .venv/bin/shopstream ]; then .venv/bin/shopstream stack down; fi

status:
	@.venv/bin/shopstream stack status

logs:
	@.venv/bin/shopstream stack logs -f
