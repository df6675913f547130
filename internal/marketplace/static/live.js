// Live "You may also like" panel of the book pages.
//
// The page works without this script: the panel is rendered on the server
// and its links are plain links. With it, the page opens one event stream
// (GET /live, Server-Sent Events) for the browser session and tells the
// server what the shopper does (POST /live/{session}/events); the server
// answers each event with a fresh list, which replaces the panel's. A click
// on a recommended book loads that book into the page without a reload.
//
// The DOM is built with textContent only: no data ever goes through
// innerHTML.
"use strict";

(() => {
  if (!window.__bookshopLoaded) {
    window.__bookshopLoaded = Date.now(); // tests check the page never reloads
  }

  const article = document.getElementById("book");
  const panel = document.getElementById("live-panel");
  if (!article || !panel || !window.EventSource || !window.fetch) {
    return; // not a book page, or an old browser: the plain page works
  }
  const siteTitle = "Online Books For You";
  const maxHistory = 100;

  // What the shopper did in this page, replayed to each new session (the
  // server forgets a session when its stream ends, as on a reconnect).
  const actions = [{ type: "viewed", book_id: currentBookID() }];
  let session = null; // the id of the live session, once the stream has one
  let queue = Promise.resolve(); // events go out one at a time, in order
  let sent = 0; // events accepted in this session
  let navigation = 0; // the latest book load; older ones are dropped

  function currentBookID() {
    return Number(article.dataset.bookId);
  }

  function setState() {
    panel.dataset.session = session ? "live" : "";
    panel.dataset.sent = String(sent);
  }

  // post sends one event of the current session.
  function post(event) {
    const id = session;
    if (!id) {
      return Promise.resolve();
    }
    return fetch("/live/" + encodeURIComponent(id) + "/events", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(event),
    }).then((resp) => {
      if (resp.ok && id === session) {
        sent++;
        setState();
      }
    }, () => {
      // The network failed; the stream will reconnect and replay.
    });
  }

  function record(type, bookID) {
    const event = { type: type, book_id: bookID };
    actions.push(event);
    if (actions.length > maxHistory) {
      actions.shift();
    }
    queue = queue.then(() => post(event));
  }

  function element(tag, className, text) {
    const e = document.createElement(tag);
    if (className) {
      e.className = className;
    }
    if (text !== undefined) {
      e.textContent = text;
    }
    return e;
  }

  // render replaces the panel's content with books.
  function render(books) {
    if (books.length === 0) {
      panel.replaceChildren(element("p", "notice panel-notice", "We have nothing more to recommend right now."));
      return;
    }
    const list = element("ol", "books");
    list.setAttribute("aria-label", "Recommended books");
    for (const b of books) {
      const item = element("li", "book");
      item.dataset.bookId = String(b.id);
      const link = element("a", "book-link");
      link.href = "/books/" + b.id;
      link.append(element("cite", "book-title", b.title));
      item.append(link);
      // A book's author and year as far as they are known: the tutorial's
      // Recommendations server sends neither.
      if (b.author || b.year) {
        const meta = element("p", "book-meta");
        if (b.author) {
          meta.append(element("span", "book-author", "by " + b.author));
        }
        if (b.author && b.year) {
          meta.append(", ");
        }
        if (b.year) {
          meta.append(element("span", "book-year", String(b.year)));
        }
        item.append(meta);
      }
      if (b.price) {
        item.append(element("p", "book-price", b.price.formatted));
        if (b.stock) {
          item.append(element("p", b.sold_out ? "stock stock-out" : "stock", b.stock));
        }
        if (!b.sold_out) {
          item.append(addToCart(b));
        }
      }
      const dismiss = element("button", "dismiss", "Dismiss");
      dismiss.type = "button";
      dismiss.dataset.bookId = String(b.id);
      dismiss.setAttribute("aria-label", "Dismiss " + b.title);
      item.append(dismiss);
      list.append(item);
    }
    panel.replaceChildren(list);
  }

  // addToCart returns the "Add to cart" form of a book of the panel, as
  // the server renders it on the other cards (cart.js sends it).
  function addToCart(b) {
    const form = element("form", "add-to-cart");
    form.method = "post";
    form.action = "/cart/items";
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "book";
    input.value = String(b.id);
    const button = element("button", "button", "Add to cart");
    button.type = "submit";
    button.append(element("span", "visually-hidden", ": " + b.title));
    form.append(input, button);
    return form;
  }

  function removeFromPanel(bookID) {
    for (const item of panel.querySelectorAll("li.book")) {
      if (Number(item.dataset.bookId) === bookID) {
        item.remove();
      }
    }
  }

  // show puts book (as GET /api/books/{id} returns it) in the main section.
  function show(book) {
    article.dataset.bookId = String(book.id);
    document.getElementById("book-title").textContent = book.title;
    document.getElementById("book-notice")?.remove(); // this book's details are all here
    document.getElementById("book-author").textContent = book.author || "unknown";
    document.getElementById("book-year").textContent = book.year ? String(book.year) : "unknown";
    // A book without a price shows none, not a zero.
    const price = document.getElementById("book-price");
    price.textContent = book.price ? book.price.formatted : "";
    price.hidden = !book.price;
    document.getElementById("book-price-label").hidden = !book.price;
    const stock = document.getElementById("book-stock");
    stock.textContent = book.stock || "";
    stock.className = book.sold_out ? "stock stock-out" : "stock";
    stock.hidden = !book.stock;
    document.getElementById("book-stock-label").hidden = !book.stock;
    // The "Add to cart" form adds the book shown, and only one for sale.
    const add = document.getElementById("add-to-cart");
    document.getElementById("add-to-cart-book").value = String(book.id);
    add.hidden = !book.price || book.sold_out;
    add.querySelector(".add-status")?.remove();
    const category = document.getElementById("book-category");
    category.textContent = book.category_label;
    category.href = book.category_url;
    document.title = book.title + " · " + siteTitle;
  }

  // load fetches book bookID and shows it; push adds a history entry. If
  // the book cannot be fetched, the browser navigates to its page.
  function load(bookID, push) {
    const mine = ++navigation;
    return fetch("/api/books/" + bookID, { headers: { Accept: "application/json" } })
      .then((resp) => {
        if (!resp.ok) {
          throw new Error("status " + resp.status);
        }
        return resp.json();
      })
      .then((book) => {
        if (mine !== navigation) {
          return; // the shopper has moved on
        }
        show(book);
        if (push) {
          window.history.pushState({ bookID: book.id }, "", "/books/" + book.id);
        }
        document.getElementById("book-title").focus();
        record("viewed", book.id);
      })
      .catch(() => {
        window.location.assign("/books/" + bookID);
      });
  }

  panel.addEventListener("click", (e) => {
    const dismiss = e.target.closest("button.dismiss");
    if (dismiss) {
      const id = Number(dismiss.dataset.bookId);
      removeFromPanel(id);
      record("dismissed", id);
      return;
    }
    const link = e.target.closest("a.book-link");
    if (!link || !session || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) {
      return; // let the browser follow the link
    }
    e.preventDefault();
    const id = Number(link.closest("li.book").dataset.bookId);
    removeFromPanel(id);
    load(id, true);
  });

  window.addEventListener("popstate", (e) => {
    const m = /^\/books\/(\d+)$/.exec(window.location.pathname);
    const id = e.state && e.state.bookID ? e.state.bookID : m ? Number(m[1]) : 0;
    if (id) {
      load(id, false);
    }
  });
  window.history.replaceState({ bookID: currentBookID() }, "");

  // The buttons rendered on the server work once this script runs.
  for (const b of panel.querySelectorAll("button.dismiss")) {
    b.hidden = false;
  }

  const stream = new EventSource("/live");
  stream.addEventListener("session", (e) => {
    // A new session (the first, or after a reconnect): replay what the
    // shopper did, so the lists leave out what they have seen.
    session = e.data;
    sent = 0;
    panel.dataset.events = "0";
    setState();
    for (const event of actions) {
      queue = queue.then(() => post(event));
    }
  });
  stream.addEventListener("books", (e) => {
    render(JSON.parse(e.data));
    panel.dataset.events = e.lastEventId;
  });
  stream.addEventListener("error", () => {
    // The stream broke off (the browser reconnects, and a new session
    // comes) or the server refused it. Until a session comes, events are
    // only recorded, and links navigate.
    session = null;
    setState();
  });
  setState();
})();
