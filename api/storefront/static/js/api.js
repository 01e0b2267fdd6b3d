// The REST client: JSON in and out, the access token in the tab's sessionStorage, one refresh
// (rotating refresh token) on a 401, and problem+json errors turned into readable messages.
const ACCESS = "shopstream.access";
const REFRESH = "shopstream.refresh";
const USER = "shopstream.user";

export class ApiError extends Error {
  constructor(status, detail, problem = null) {
    super(detail);
    this.status = status;
    this.problem = problem;
  }
}

export const session = {
  get access() { return sessionStorage.getItem(ACCESS); },
  get refresh() { return sessionStorage.getItem(REFRESH); },
  get user() {
    const raw = sessionStorage.getItem(USER);
    return raw ? JSON.parse(raw) : null;
  },
  get signedIn() { return Boolean(sessionStorage.getItem(REFRESH)); },
  keep(tokens) {
    sessionStorage.setItem(ACCESS, tokens.access_token);
    sessionStorage.setItem(REFRESH, tokens.refresh_token);
  },
  remember(user) { sessionStorage.setItem(USER, JSON.stringify(user)); },
  clear() { [ACCESS, REFRESH, USER].forEach((key) => sessionStorage.removeItem(key)); },
};

export const EXPIRED = "Your session has expired: sign in again.";
let refreshing = null;

async function refreshTokens() {
  // One refresh at a time: the refresh token is spent by its first use.
  refreshing ??= (async () => {
    const token = session.refresh;
    if (!token) return false;
    const response = await fetch("/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    });
    if (!response.ok) return false;
    session.keep(await response.json());
    return true;
  })().finally(() => { refreshing = null; });
  return refreshing;
}

async function problemOf(response) {
  const type = response.headers.get("content-type") || "";
  if (type.includes("json")) {
    const problem = await response.json();
    return new ApiError(response.status, problem.detail || problem.title, problem);
  }
  return new ApiError(response.status, `The shop answered ${response.status}; try again.`);
}

// fetch with the access token, refreshed once if it has expired.
export async function authorizedFetch(path, options = {}) {
  const send = () => {
    const headers = { ...(options.headers || {}) };
    if (session.access) headers.Authorization = `Bearer ${session.access}`;
    return fetch(path, { ...options, headers });
  };
  const sentWith = session.access;
  const hadSession = session.signedIn;
  const response = await send();
  if (response.status !== 401 || !hadSession) return response;
  // Requests run side by side: another one may have refreshed the tokens meanwhile (send
  // again), or found them refused and signed out (then this one's session expired too).
  const refreshedMeanwhile = session.access && session.access !== sentWith;
  if (refreshedMeanwhile || (session.refresh && (await refreshTokens()))) return send();
  session.clear();
  throw new ApiError(401, EXPIRED);
}

export async function api(path, { method = "GET", body, headers = {} } = {}) {
  const options = { method, headers: { Accept: "application/json", ...headers } };
  if (body instanceof FormData) {
    options.body = body;
  } else if (body !== undefined) {
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await authorizedFetch(path, options);
  } catch (error) {
    if (error instanceof ApiError) throw error;
    throw new ApiError(0, "The shop cannot be reached; check your connection and try again.");
  }
  if (!response.ok) {
    const error = await problemOf(response);
    if (error.status === 401 && session.signedIn) {
      session.clear();
      throw new ApiError(401, EXPIRED, error.problem);
    }
    throw error;
  }
  if (response.status === 204) return null;
  return response.json();
}

export function money(cents, currency) {
  return `${(cents / 100).toFixed(2)} ${currency}`;
}
