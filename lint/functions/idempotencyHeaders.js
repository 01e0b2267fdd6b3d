// An operation that takes the Idempotency-Key header replays its first answer to every retry
// and says so with Idempotent-Replayed: documented on each 2xx answer of such an operation,
// and on no answer of any other (the header would promise a replay that never comes).
const KEY = "idempotency-key";
const REPLAYED = "idempotent-replayed";

export default function idempotencyHeaders(operation, _options, { path }) {
  const parameters = Array.isArray(operation.parameters) ? operation.parameters : [];
  const takesKey = parameters.some(
    (parameter) => parameter?.in === "header" && String(parameter.name).toLowerCase() === KEY,
  );
  const results = [];
  for (const [status, response] of Object.entries(operation.responses ?? {})) {
    const headers = Object.keys(response?.headers ?? {}).map((name) => name.toLowerCase());
    const documented = headers.includes(REPLAYED);
    if (takesKey && status.startsWith("2") && !documented) {
      results.push({
        message: `${status} of an operation that takes Idempotency-Key does not document Idempotent-Replayed`,
        path: [...path, "responses", status, "headers"],
      });
    } else if (!takesKey && documented) {
      results.push({
        message: `${status} documents Idempotent-Replayed, but the operation takes no Idempotency-Key`,
        path: [...path, "responses", status, "headers"],
      });
    }
  }
  return results;
}
