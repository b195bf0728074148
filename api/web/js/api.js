// The API key and every call to the API. The key lives in sessionStorage (this tab, and the
// tabs it opens), goes out as "Authorization: Bearer …", and a 401 anywhere signs out.

const KEY = "isu.apiKey";
const BASE = new URL("../api/v1/", document.baseURI);

let onUnauthorized = () => {};

export class Unauthorized extends Error {}

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status;
  }
}

export function storedKey() {
  return sessionStorage.getItem(KEY);
}

export function storeKey(key) {
  sessionStorage.setItem(KEY, key);
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

/** What to do when the API refuses the key (the app shows the sign-in screen). */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** The URL of API path ``path`` with query ``params`` (arrays repeat; null/"" are left out). */
export function apiUrl(path, params = {}) {
  const url = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(params)) {
    for (const item of [value].flat()) {
      if (item !== null && item !== undefined && item !== "") url.searchParams.append(name, item);
    }
  }
  return url;
}

async function send(path, params, key) {
  const response = await fetch(apiUrl(path, params), {
    headers: { Authorization: `Bearer ${key ?? storedKey() ?? ""}`, Accept: "application/json" },
  });
  if (response.status === 401) {
    if (key === undefined) {
      forgetKey();
      onUnauthorized();
    }
    throw new Unauthorized("the API key was refused");
  }
  if (!response.ok) {
    let detail = "";
    try {
      detail = (await response.json()).detail;
    } catch {
      detail = response.statusText;
    }
    throw new ApiError(response.status, detail);
  }
  return response;
}

/** GET ``path`` as JSON; ``key`` tries a key that is not stored yet (sign-in). */
export async function getJson(path, params = {}, key = undefined) {
  return (await send(path, params, key)).json();
}

function fileName(response, fallback) {
  const header = response.headers.get("Content-Disposition") ?? "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(header);
  if (star) return decodeURIComponent(star[1]);
  const plain = /filename="?([^";]+)"?/i.exec(header);
  return plain ? plain[1] : fallback;
}

/** GET ``path`` as a file and save it under the name the API gives (Content-Disposition). */
export async function download(path, params, fallbackName) {
  const response = await send(path, params);
  const blob = await response.blob();
  const name = fileName(response, fallbackName);
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60000);
  return name;
}

/** A Russian message for a failed call. */
export function problem(error) {
  if (error instanceof ApiError) {
    if (error.status === 404) return "Объект не найден или недоступен по этому ключу.";
    if (error.status === 503) return "База данных недоступна, повторите попытку позже.";
    if (error.status === 422) return `Неверный запрос: ${error.message}`;
    return `Ошибка сервера (${error.status}): ${error.message}`;
  }
  return "Нет связи с сервером.";
}
