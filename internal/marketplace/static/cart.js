// Add to cart without a reload.
//
// Every "Add to cart" button is a plain form that POSTs to /cart/items and
// is answered with a redirect to the cart, so the site works without this
// script. With it, the form is sent with fetch, asking for JSON: the
// answer holds the cart's new count, which goes in the header, and a
// message, which is announced next to the button (an aria-live region).
// If no answer can be read, the form is submitted as usual.
//
// Each click carries an idempotency key (the form's "key" field): if the
// fetch did reach the server and the form is then submitted again, or the
// Marketplace retries the call, the book is added once. Clicks are sent
// one at a time, in order, so that a new guest's first two clicks do not
// make two carts.
//
// The DOM is changed with textContent only: no data ever goes through
// innerHTML.
"use strict";

(() => {
  if (!window.fetch || !window.URLSearchParams) {
    return; // an old browser: the plain forms work
  }

  function setCount(count) {
    const badge = document.getElementById("cart-count");
    if (!badge || count < 0) {
      return;
    }
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = count === 1 ? " book" : " books";
    badge.replaceChildren(String(count), hidden);
  }

  function statusOf(form) {
    let status = form.querySelector(".add-status");
    if (!status) {
      status = document.createElement("span");
      status.className = "add-status";
      status.setAttribute("role", "status");
      form.append(status);
    }
    return status;
  }

  // newKey returns 128 random bits in hex (crypto.randomUUID needs a
  // secure context; getRandomValues does not).
  function newKey() {
    const bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function keyField(form) {
    let field = form.querySelector('input[name="key"]');
    if (!field) {
      field = document.createElement("input");
      field.type = "hidden";
      field.name = "key";
      form.append(field);
    }
    return field;
  }

  let queue = Promise.resolve(); // one add at a time, in order

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("add-to-cart")) {
      return;
    }
    event.preventDefault();
    // The form as it is now, with this click's key: a second click on the
    // same button while this one waits its turn is another add.
    const body = new URLSearchParams(new FormData(form));
    body.set("key", newKey());
    queue = queue.then(() => add(form, body));
  });

  async function add(form, body) {
    const button = form.querySelector("button");
    if (button) {
      button.disabled = true;
    }
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body,
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json();
      setCount(answer.count);
      const status = statusOf(form);
      status.textContent = answer.message || "";
      status.classList.toggle("add-status-error", !response.ok);
    } catch {
      // No answer we can read: the browser sends the form, with the same
      // key, so that an add the server did make is not made twice.
      keyField(form).value = body.get("key");
      form.submit();
    } finally {
      if (button) {
        button.disabled = false;
      }
    }
  }
})();
