// The sign-in screen: the API key is checked against the API before it is kept.

import { Unauthorized, getJson, problem, storeKey } from "./api.js";
import { h, replace } from "./dom.js";

export function signIn(main, message, then) {
  const input = h("input", {
    id: "api-key",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
    "aria-describedby": "api-key-help",
  });
  const error = h("p", { class: "error", role: "alert" }, message ?? "");
  const button = h("button", { type: "submit", class: "primary" }, "Войти");
  const form = h(
    "form",
    { class: "signin-form" },
    h("div", { class: "field" }, h("label", { for: "api-key" }, "Ключ API"), input),
    h(
      "p",
      { id: "api-key-help", class: "help" },
      "Ключ выдаёт администратор системы учёта (isu api-key create). Он хранится только в этой " +
        "вкладке браузера до её закрытия.",
    ),
    error,
    button,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) return;
    button.disabled = true;
    error.textContent = "";
    try {
      await getJson("contracts", {}, key);
      storeKey(key);
      await then();
    } catch (failure) {
      error.textContent =
        failure instanceof Unauthorized ? "Неверный или отозванный ключ API." : problem(failure);
      button.disabled = false;
      input.focus();
    }
  });
  replace(
    main,
    h(
      "section",
      { class: "signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Вход в раздел ИСУ"),
      form,
    ),
  );
  input.focus();
}
