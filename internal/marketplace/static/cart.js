// Add to cart without a reload.
//
// Every "Add to cart" button is a plain form that POSTs to /cart/items and
// is answered with a redirect to the cart, so the site works without this
// script. With it, the form is sent with fetch, asking for JSON: the
// answer holds the cart's new count, which goes in the header, and a
// message, which is announced next to the button (an aria-live region).
// If the request cannot be made at all, the form is submitted as usual.
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

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.classList.contains("add-to-cart")) {
      return;
    }
    event.preventDefault();
    const button = form.querySelector("button");
    if (button) {
      button.disabled = true;
    }
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      const answer = await response.json();
      setCount(answer.count);
      const status = statusOf(form);
      status.textContent = answer.message || "";
      status.classList.toggle("add-status-error", !response.ok);
    } catch {
      form.submit(); // no answer we can read: let the browser do it
    } finally {
      if (button) {
        button.disabled = false;
      }
    }
  });
})();
