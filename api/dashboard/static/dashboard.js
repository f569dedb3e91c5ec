// The dashboard's only script: local times, and the live feed (new rows without a reload).
"use strict";

function showLocalTimes(root) {
  root.querySelectorAll("span.local[data-at]").forEach((el) => {
    const at = new Date(el.dataset.at);
    try {
      el.textContent = at.toLocaleString(undefined, { timeZone: el.dataset.zone, dateStyle: "medium", timeStyle: "medium" }) + " " + el.dataset.zone;
    } catch (e) {
      el.textContent = at.toLocaleString();
    }
  });
}

function newestId(tbody) {
  const first = tbody.querySelector("tr[data-id]");
  return first ? Number(first.dataset.id) : 0;
}

function follow(table) {
  const tbody = table.querySelector("tbody");
  const poll = async () => {
    const url = new URL(table.dataset.feed, window.location.href);
    url.searchParams.set("after", String(newestId(tbody)));
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) {
        const holder = document.createElement("tbody");
        holder.innerHTML = await response.text();
        const rows = Array.from(holder.querySelectorAll("tr[data-id]"));
        rows.reverse().forEach((row) => {
          const old = tbody.querySelector(`tr[data-id="${row.dataset.id}"]`);
          if (old) old.remove();
          row.classList.add("new");
          tbody.prepend(row);
        });
      }
    } catch (e) { /* the next poll tries again */ }
  };
  setInterval(poll, 2000);
}

function refreshActive(tbody, url) {
  // Rows still scheduled, queued or running are fetched again until they finish.
  const active = Array.from(tbody.querySelectorAll("tr[data-id]")).filter((row) =>
    row.querySelector(".s-scheduled, .s-queued, .s-running"));
  if (!active.length) return;
  const oldest = Math.min(...active.map((row) => Number(row.dataset.id)));
  const target = new URL(url, window.location.href);
  target.searchParams.set("after", String(oldest - 1));
  fetch(target, { credentials: "same-origin" }).then((r) => r.ok ? r.text() : "").then((html) => {
    const holder = document.createElement("tbody");
    holder.innerHTML = html;
    holder.querySelectorAll("tr[data-id]").forEach((row) => {
      const old = tbody.querySelector(`tr[data-id="${row.dataset.id}"]`);
      if (old) old.replaceWith(row);
    });
  }).catch(() => {});
}

function actInPlace(form) {
  // An action is posted without leaving the page: a run shows up in the live feed; a
  // pause or resume reloads, since it changes the buttons.
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const response = await fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      if (button.dataset.action !== "run") window.location.reload();
    } catch (e) {
      button.textContent = "failed: " + e.message;
    } finally {
      button.disabled = false;
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  showLocalTimes(document);
  document.querySelectorAll("span.actions form").forEach(actInPlace);
  document.querySelectorAll("table[data-feed]").forEach((table) => {
    follow(table);
    setInterval(() => refreshActive(table.querySelector("tbody"), table.dataset.feed), 2000);
  });
});
