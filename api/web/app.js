// The entry point of every page: sign-in when there is no key, then the page's own module
// (index.html: the ISU page, node.html: a node's information, meter.html: a meter's tabs).

import { forgetKey, storedKey, whenUnauthorized } from "./js/api.js";
import { signIn } from "./js/signin.js";

const PAGES = {
  isu: () => import("./js/isu.js"),
  node: () => import("./js/node.js"),
  meter: () => import("./js/meter.js"),
};

const main = document.getElementById("main");
const signOut = document.getElementById("sign-out");

function showSignIn(message) {
  signOut.hidden = true;
  signIn(main, message, start);
}

async function start() {
  if (!storedKey()) {
    showSignIn();
    return;
  }
  signOut.hidden = false;
  const page = await PAGES[document.body.dataset.page]();
  await page.render(main);
}

whenUnauthorized(() => showSignIn("Ключ API не принят (неверный или отозван). Войдите снова."));
signOut.addEventListener("click", () => {
  forgetKey();
  showSignIn();
});
start();
