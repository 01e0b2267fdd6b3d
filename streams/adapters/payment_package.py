"""Packaging and deploying the payment function as an AWS Lambda zip.

``build_package(dest)`` writes ``dest/payment-function.zip``: our pure modules under their
package paths (handler ``streams.adapters.payment_function.handler``) and, vendored from this
environment, the distributions they need (pydantic and its requirements; the Stripe SDK and
its requirements with ``with_stripe=True``). The zip is deterministic (sorted entries, fixed
timestamps), so an unchanged function keeps its CodeSha256.

pydantic-core is compiled, so the zip is only as portable as the wheels installed here: it is
built only on CPython 3.11 on Linux, and every compiled wheel must be manylinux for glibc up to
2.26 (Amazon Linux 2, which runs Lambda's python3.11). Deploy it with runtime ``python3.11``
and the architecture of the machine that built it (``lambda_architecture()``).

``deploy_function(settings, package, role_arn=..., bucket=...)`` uploads the zip to S3 and
creates the function from it, or updates its code and configuration. Its environment is
``function_environment(settings)``, which the local invoker hands the in-process function too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import importlib.util
import io
import math
import platform
import re
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Final, Literal

from shopstream.aws import aws_client
from shopstream.settings import Settings
from streams.adapters.payment_function import (
    ENV_PROVIDER,
    ENV_SIMULATED_LATE_ANSWER_S,
    ENV_STRIPE_API_KEY,
)

HANDLER: Final = "streams.adapters.payment_function.handler"
RUNTIME: Final = "python3.11"
PACKAGE_NAME: Final = "payment-function.zip"
MEMORY_MB: Final = 256

# Everything of ours the handler imports; the fresh-interpreter test proves the list complete.
MODULES: Final = (
    "streams",
    "streams.contract",
    "streams.domain",
    "streams.domain.payments",
    "streams.adapters",
    "streams.adapters.payment_messages",
    "streams.adapters.payment_function",
    "streams.adapters.stripe_provider",
)
_REQUIREMENTS: Final = ("pydantic",)
_STRIPE_REQUIREMENTS: Final = ("stripe",)

_LAMBDA_GLIBC: Final = (2, 26)
_ZIP_EPOCH: Final = (1980, 1, 1, 0, 0, 0)


class PackagingError(RuntimeError):
    pass


def lambda_architecture() -> Literal["x86_64", "arm64"]:
    """Lambda's name for this machine's architecture, which the vendored wheels were built for."""
    machine = platform.machine()
    if machine in ("x86_64", "AMD64"):
        return "x86_64"
    if machine in ("aarch64", "arm64"):
        return "arm64"
    raise PackagingError(f"Lambda runs x86_64 or arm64, not {machine}")


def build_package(dest: Path, *, with_stripe: bool = False) -> Path:
    """Write the function's deployment zip into the directory ``dest``; return its path."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] != (3, 11):
        raise PackagingError(f"build on CPython 3.11, as Lambda's {RUNTIME} runs it")
    if sys.platform != "linux":
        raise PackagingError("build on Linux: the compiled wheels must be Linux ones")
    arch = lambda_architecture()
    files: dict[str, Path] = {}
    for module in MODULES:
        files[_module_path(module)] = _module_origin(module)
    roots = _REQUIREMENTS + (_STRIPE_REQUIREMENTS if with_stripe else ())
    for distribution in _closure(roots):
        _check_wheel(distribution, arch)
        files.update(_distribution_files(distribution))
    dest.mkdir(parents=True, exist_ok=True)
    package = dest / PACKAGE_NAME
    with zipfile.ZipFile(package, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            # Lambda runs the code as another user: everything must be world-readable.
            info.external_attr = (0o755 if name.endswith(".so") else 0o644) << 16
            archive.writestr(info, files[name].read_bytes())
    return package


def code_sha256(package: Path) -> str:
    """The package's hash as Lambda reports it (CodeSha256: base64 of the SHA-256)."""
    return base64.b64encode(hashlib.sha256(package.read_bytes()).digest()).decode()


def function_environment(settings: Settings) -> dict[str, str]:
    """The function's environment: what it reads instead of our settings."""
    environment: dict[str, str] = {ENV_PROVIDER: settings.payment_provider}
    if settings.payment_provider == "stripe" and settings.stripe_api_key is not None:
        environment[ENV_STRIPE_API_KEY] = settings.stripe_api_key.get_secret_value()
    if settings.payment_provider == "simulated":
        # The late-answering test card answers a second after the invoker stops waiting.
        environment[ENV_SIMULATED_LATE_ANSWER_S] = f"{settings.payment_timeout_s + 1:g}"
    return environment


async def deploy_function(settings: Settings, package: Path, *, role_arn: str, bucket: str) -> str:
    """Create the function named by the settings from ``package``, or update its configuration
    and code; return its ARN. The timeout is the settings' ``payment_timeout_s``, rounded up.

    The code goes through S3 (``bucket``, keyed by its hash, so unchanged code is the same
    object) rather than inline: an inline upload is one multi-megabyte request body, which
    aiohttp warns may block the event loop, and S3 is where deployed artifacts belong anyway.
    """
    code = await asyncio.to_thread(package.read_bytes)
    key = f"payment-function/{hashlib.sha256(code).hexdigest()}.zip"
    async with aws_client(settings, "s3") as s3:
        await s3.put_object(Bucket=bucket, Key=key, Body=io.BytesIO(code))
    name = settings.payment_function_name
    configuration = {
        "Role": role_arn,
        "Handler": HANDLER,
        "Runtime": RUNTIME,
        "Timeout": math.ceil(settings.payment_timeout_s),
        "MemorySize": MEMORY_MB,
        "Environment": {"Variables": function_environment(settings)},
    }
    async with aws_client(settings, "lambda") as client:
        try:
            created = await client.create_function(
                FunctionName=name,
                Code={"S3Bucket": bucket, "S3Key": key},
                Architectures=[lambda_architecture()],
                **configuration,
            )
        except client.exceptions.ResourceConflictException:
            pass  # it exists: update it below
        else:
            # A new function is Pending for a moment; invoking it before it is Active fails.
            await client.get_waiter("function_active_v2").wait(FunctionName=name)
            arn: str = created["FunctionArn"]
            return arn
        # Lambda refuses a second update while one is in progress: wait between the two.
        await client.update_function_configuration(FunctionName=name, **configuration)
        await client.get_waiter("function_updated_v2").wait(FunctionName=name)
        updated = await client.update_function_code(
            FunctionName=name, S3Bucket=bucket, S3Key=key, Architectures=[lambda_architecture()]
        )
        await client.get_waiter("function_updated_v2").wait(FunctionName=name)
        arn = updated["FunctionArn"]
        return arn


def _module_path(module: str) -> str:
    is_package = _module_origin(module).name == "__init__.py"
    return module.replace(".", "/") + ("/__init__.py" if is_package else ".py")


def _module_origin(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise PackagingError(f"cannot find the source of {module}")
    return Path(spec.origin)


def _closure(roots: tuple[str, ...]) -> list[metadata.Distribution]:
    """The installed distributions ``roots`` need, their requirements' requirements included.

    Requirements behind an extra are left out; other markers are not evaluated, so a
    requirement for another platform is taken if it happens to be installed here."""
    seen: dict[str, metadata.Distribution] = {}
    pending = list(roots)
    while pending:
        name = _normalise(pending.pop())
        if name in seen:
            continue
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            if name in map(_normalise, roots):
                raise PackagingError(f"{name} is not installed here to be packaged") from None
            continue  # a conditional requirement that does not apply here
        seen[name] = distribution
        for requirement in distribution.requires or ():
            requirement_name, _, marker = requirement.partition(";")
            if "extra" not in marker:
                match = re.match(r"[A-Za-z0-9._-]+", requirement_name.strip())
                if match:
                    pending.append(match.group())
    return [seen[name] for name in sorted(seen)]


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _distribution_files(distribution: metadata.Distribution) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for file in distribution.files or ():
        # Skip bytecode (Lambda's code directory is read-only, so it would be stale weight) and
        # anything installed outside site-packages (console scripts).
        if file.parts[0] == ".." or "__pycache__" in file.parts or file.suffix == ".pyc":
            continue
        files[file.as_posix()] = Path(str(distribution.locate_file(file)))
    return files


def _check_wheel(distribution: metadata.Distribution, arch: str) -> None:
    wheel = distribution.read_text("WHEEL") or ""
    if "Root-Is-Purelib: true" in wheel:
        return
    tags = re.findall(r"^Tag: (\S+)$", wheel, flags=re.MULTILINE)
    if not any(_runs_on_lambda(tag, arch) for tag in tags):
        raise PackagingError(
            f"{distribution.metadata['Name']} is installed from a wheel tagged {tags}, "
            f"which Lambda's {RUNTIME} on {arch} cannot load"
        )


def _runs_on_lambda(tag: str, arch: str) -> bool:
    python, abi, platform_tag = tag.split("-")
    if python not in ("cp311", "py3") and abi != "abi3":
        return False
    machine = "aarch64" if arch == "arm64" else "x86_64"
    if platform_tag in (f"manylinux2014_{machine}", f"manylinux2010_{machine}"):
        return True
    match = re.fullmatch(rf"manylinux_(\d+)_(\d+)_{machine}", platform_tag)
    return match is not None and (int(match[1]), int(match[2])) <= _LAMBDA_GLIBC
