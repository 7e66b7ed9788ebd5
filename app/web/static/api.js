// The admin key and the one way both panels call the service: the key the page was given, sent as a bearer token.

export const KEY_STORAGE = "mlaas-admin-key";

export const authorisation = () => ({ Authorization: `Bearer ${sessionStorage.getItem(KEY_STORAGE) || ""}` });

// One admin call with a JSON text body (sent as typed, so the server judges it): the parsed JSON answer,
// or an Error carrying the server's message.
export async function apiText(method, path, text) {
  const init = { method, headers: authorisation() };
  if (text !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = text;
  }
  const response = await fetch(path, init);
  const answer = await response.text();
  let data = null;
  try {
    data = answer ? JSON.parse(answer) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = data && data.error;
    const message = (error && (error.message || error)) || (data && data.message) || answer;
    throw new Error(`${response.status}: ${message || response.statusText}`);
  }
  return data;
}

// The same call with a value serialised as the body.
export const api = (method, path, value) => apiText(method, path, value === undefined ? undefined : JSON.stringify(value));
