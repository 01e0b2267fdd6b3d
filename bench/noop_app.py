"""The baseline: a FastAPI endpoint that does nothing, served like the gateway (uvicorn, one
process), so that the gateway's figures can be read against what FastAPI itself costs here."""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


@app.post("/noop", status_code=202)
async def noop() -> dict[str, str]:
    return {"status": "accepted"}
