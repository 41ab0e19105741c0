// devhub dashboard: live regions over server-sent events, and search as you type. No dependencies.
"use strict";
(function () {
  const statusLine = document.getElementById("live-status");
  const REFRESH_DEBOUNCE_MS = 150;
  const SEARCH_DEBOUNCE_MS = 200;

  function say(text, state) {
    if (!statusLine) return;
    statusLine.textContent = text;
    statusLine.className = "live-status " + (state || "");
  }

  // --- live regions: refetch this page and swap every [data-live] region whose markup changed ---
  let refreshTimer = null;
  let refreshing = false;
  let again = false;

  function focusKey(element) {
    if (!element || element === document.body) return null;
    if (element.id) return "#" + CSS.escape(element.id);
    const href = element.getAttribute && element.getAttribute("href");
    return href ? '[href="' + CSS.escape(href) + '"]' : null;
  }

  // Each render gives every form a fresh Idempotency-Key: a region whose only difference is its form keys
  // has not changed (replacing it would reset its forms on every event).
  function comparable(region) {
    const copy = region.cloneNode(true);
    copy.querySelectorAll("input[type=hidden][name=key]").forEach(function (key) { key.removeAttribute("value"); });
    return copy.innerHTML;
  }

  // Whether the reader has changed a form field in the region (typed a rationale, picked a status).
  function edited(region) {
    return Array.from(region.querySelectorAll("input, textarea, select")).some(function (field) {
      if (field.type === "hidden") return false;
      if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
      if (field.tagName === "SELECT") {
        return Array.from(field.options).some(function (option) { return option.selected !== option.defaultSelected; });
      }
      return field.value !== field.defaultValue;
    });
  }

  async function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    try {
      const response = await fetch(location.href, { headers: { "Accept": "text/html" }, cache: "no-store" });
      if (!response.ok && response.status !== 404 && response.status !== 409) throw new Error("HTTP " + response.status);
      const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
      const focused = document.activeElement;
      let changed = 0;
      document.querySelectorAll("[data-live][id]").forEach(function (region) {
        const next = fresh.getElementById(region.id);
        if (!next || comparable(next) === comparable(region)) return;
        if (edited(region)) return;  // never wipe what the reader is typing; the next change retries
        const keepFocus = region.contains(focused) ? focusKey(focused) : null;
        const open = Array.from(region.querySelectorAll("details"))
          .map(function (d, i) { return d.open ? i : -1; }).filter(function (i) { return i >= 0; });
        region.replaceWith(next);
        // Keep disclosure widgets the reader opened, and keyboard focus where it was.
        const details = next.querySelectorAll("details");
        open.forEach(function (i) { if (details[i]) details[i].open = true; });
        if (keepFocus) { const target = next.querySelector(keepFocus); if (target) target.focus(); }
        changed += 1;
      });
      if (fresh.title) document.title = fresh.title;
      window.devhubRefreshes = (window.devhubRefreshes || 0) + 1;
      say("Live · updated " + new Date().toLocaleTimeString() + (changed ? "" : " (no change)"), "live");
    } catch (error) {
      say("Live · refresh failed (" + error.message + "), retrying on the next change", "offline");
    } finally {
      refreshing = false;
      if (again) { again = false; scheduleRefresh(); }
    }
  }

  function kindOf(message) {
    try { return JSON.parse(message.data).kind; } catch (error) { return null; }
  }

  function scheduleRefresh() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
  }

  if (document.querySelector("[data-live]") && "EventSource" in window) {
    const source = new EventSource("/ui/events");
    source.addEventListener("hello", function () {
      say("Live", "live");
      // Events may have been missed: after a reconnect (daemon restarted, laptop woke up), and on the first
      // connect those between the page's render and the stream's opening (a write, a relay sample).
      scheduleRefresh();
    });
    source.addEventListener("change", function (message) {
      // A relay queue sample (up to one a minute, more while writes flow) matters only to pages that chart it.
      if (kindOf(message) === "relay-sample" && !document.querySelector("[data-relay-chart]")) return;
      scheduleRefresh();
    });
    source.addEventListener("error", function () { say("Reconnecting…", "offline"); });
    window.addEventListener("pagehide", function () { source.close(); });
  } else {
    say("", "");
  }

  // --- search as you type: /search?q= (JSON), rendered with DOM nodes (never innerHTML) ---
  const input = document.querySelector("form.search input[name=q]");
  const results = document.querySelector("[data-search-results]");
  if (input && results) {
    let searchTimer = null;
    let latest = 0;

    function hrefFor(hit) {
      const repo = hit.repo ? "?repo=" + encodeURIComponent(hit.repo) : "";
      if (hit.kind === "task") return "/ui/tasks/" + encodeURIComponent(hit.id) + repo;
      if (hit.kind === "workplan") return "/ui/workplans/" + encodeURIComponent(hit.id) + repo;
      return hit.workplan_id ? "/ui/workplans/" + encodeURIComponent(hit.workplan_id) : "/";
    }

    function snippet(text) {
      const p = document.createElement("p");
      p.className = "snippet";
      (text || "").split(/(\[[^\]]*\])/).forEach(function (part) {
        if (part.startsWith("[") && part.endsWith("]")) {
          const mark = document.createElement("mark");
          mark.textContent = part.slice(1, -1);
          p.appendChild(mark);
        } else if (part) {
          p.appendChild(document.createTextNode(part));
        }
      });
      return p;
    }

    function show(q, hits) {
      const heading = document.createElement("h2");
      heading.id = "results-h";
      heading.textContent = q ? "Results for “" + q + "” (" + hits.length + ")" : "Results";
      const nodes = [heading];
      if (hits.length) {
        const list = document.createElement("ol");
        list.className = "hits";
        hits.forEach(function (hit) {
          const item = document.createElement("li");
          item.dataset.hitKind = hit.kind;
          item.dataset.hitId = hit.id;
          const link = document.createElement("a");
          link.href = hrefFor(hit);
          link.textContent = hit.id;
          const badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = hit.kind;
          const title = document.createElement("span");
          title.className = "title";
          title.textContent = hit.title || "";
          item.append(link, " ", badge, " ", title, snippet(hit.snippet));
          list.appendChild(item);
        });
        nodes.push(list);
      } else if (q) {
        const none = document.createElement("p");
        none.className = "empty";
        none.textContent = "Nothing matches.";
        nodes.push(none);
      }
      results.replaceChildren.apply(results, nodes);
    }

    async function runSearch() {
      const q = input.value.trim();
      const ticket = ++latest;
      const url = new URL(location.href);
      if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
      history.replaceState(null, "", url);
      if (!q) { show("", []); return; }
      try {
        const response = await fetch("/search?limit=50&q=" + encodeURIComponent(q), { headers: { "Accept": "application/json" } });
        const hits = response.ok ? await response.json() : [];
        if (ticket === latest) show(q, hits);  // an older, slower answer never overwrites a newer one
      } catch (error) {
        if (ticket === latest) say("Search failed: " + error.message, "offline");
      }
    }

    input.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(runSearch, SEARCH_DEBOUNCE_MS);
    });
  }
})();
