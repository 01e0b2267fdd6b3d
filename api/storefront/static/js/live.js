// Server-Sent Events read with fetch (EventSource cannot send the Authorization header):
// reconnects after any break and resumes from the last event id it saw.
import { ApiError, authorizedFetch } from "./api.js";

function parse(block) {
  const message = { id: null, event: "message", data: "", retry: null };
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
    if (field === "id") message.id = value;
    else if (field === "event") message.event = value;
    else if (field === "data") message.data += (message.data ? "\n" : "") + value;
    else if (field === "retry") message.retry = Number(value);
  }
  return message;
}

export function follow(path, { onMessage, onState = () => {}, lastEventId = null }) {
  let lastId = lastEventId;
  let retryMs = 1000;
  let stopped = false;
  let controller = null;

  async function readOnce() {
    controller = new AbortController();
    const headers = { Accept: "text/event-stream" };
    if (lastId) headers["Last-Event-ID"] = lastId;
    const response = await authorizedFetch(path, { headers, signal: controller.signal });
    if (!response.ok) throw new ApiError(response.status, `stream answered ${response.status}`);
    onState("live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = parse(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (message.retry) retryMs = message.retry;
        if (message.id) lastId = message.id;
        if (message.data) onMessage(message.event, JSON.parse(message.data), message.id);
      }
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await readOnce();
      } catch (error) {
        if (stopped) return;
        if (error instanceof ApiError && error.status === 401) {
          onState("signed-out");
          return;
        }
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  })();

  return {
    get lastId() { return lastId; },
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
