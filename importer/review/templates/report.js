"use strict";
// Pages through lists whose pages are inert text (script elements of a type that never
// runs), each parsed only when a row of it is first shown. The markup parsed is the
// report template's, where every text from mail was escaped; nothing here builds markup
// from text. The thread filters read a JSON index (search text and flags per thread).
(function () {
  function pager(section, index) {
    const pages = section.querySelectorAll("script.page");
    const view = section.querySelector(".view");
    const info = section.querySelector(".info");
    const prev = section.querySelector(".prev");
    const next = section.querySelector(".next");
    const size = Number(section.dataset.page) || 100;
    const total = Number(section.dataset.total) || 0;
    const parsed = new Map();
    let shown = null;          // null: every row, else the rows' numbers
    let page = 0;
    function row(i) {
      const p = Math.floor(i / size);
      let rows = parsed.get(p);
      if (!rows) {
        const t = document.createElement("template");
        t.innerHTML = pages[p].textContent;
        rows = Array.from(t.content.children);
        parsed.set(p, rows);
      }
      return rows[i % size];
    }
    function draw() {
      const count = shown ? shown.length : total;
      const last = Math.max(1, Math.ceil(count / size)) - 1;
      page = Math.min(Math.max(page, 0), last);
      const rows = [];
      for (let k = page * size; k < Math.min((page + 1) * size, count); k++) {
        rows.push(row(shown ? shown[k] : k));
      }
      view.replaceChildren(...rows);
      info.textContent = (count ? page * size + 1 : 0) + "–" + Math.min((page + 1) * size, count) +
        " of " + count + (count < total ? " (filtered from " + total + ")" : "");
      prev.disabled = page === 0;
      next.disabled = page >= last;
    }
    prev.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    draw();
    return {
      filter: function (test) {
        shown = null;
        if (test) {
          shown = [];
          for (let i = 0; i < index.length; i++) { if (test(index[i])) shown.push(i); }
        }
        page = 0;
        draw();
        return shown ? shown.length : total;
      }
    };
  }
  const index = JSON.parse(document.getElementById("thread-index").textContent);
  const pagers = {};
  document.querySelectorAll("section.paged").forEach(function (s) {
    pagers[s.id] = pager(s, s.id === "threads" ? index : []);
  });
  const search = document.getElementById("search");
  const flag = document.getElementById("flag");
  const count = document.querySelector("#threads .count");
  let timer = null;
  function apply() {
    const q = search.value.trim().toLowerCase();
    const f = flag.value;
    const n = pagers.threads.filter(q || f ? function (entry) {
      return (!q || entry[0].indexOf(q) >= 0) &&
        (!f || (" " + entry[1] + " ").indexOf(" " + f + " ") >= 0);
    } : null);
    count.textContent = q || f ? n + " matching" : "";
  }
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 120); });
  flag.addEventListener("change", apply);
  document.body.dataset.ready = "1";
})();
