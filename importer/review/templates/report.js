"use strict";
// Pages through lists held in inert <template>s: only the nodes of the page shown are in
// the document. Nothing here builds markup from text: nodes written (and escaped) by the
// report's template are moved, and the filters read their data-s / data-f attributes.
(function () {
  function pager(section) {
    const tpl = section.querySelector("template");
    const items = tpl ? Array.from(tpl.content.children) : [];
    const view = section.querySelector(".view");
    const info = section.querySelector(".info");
    const prev = section.querySelector(".prev");
    const next = section.querySelector(".next");
    const size = Number(section.dataset.page) || 100;
    let shown = items;
    let page = 0;
    function draw() {
      const pages = Math.max(1, Math.ceil(shown.length / size));
      page = Math.min(Math.max(page, 0), pages - 1);
      view.replaceChildren(...shown.slice(page * size, (page + 1) * size));
      const from = shown.length ? page * size + 1 : 0;
      const to = Math.min((page + 1) * size, shown.length);
      info.textContent = from + "–" + to + " of " + shown.length +
        (shown.length < items.length ? " (filtered from " + items.length + ")" : "");
      prev.disabled = page === 0;
      next.disabled = page >= pages - 1;
    }
    prev.addEventListener("click", function () { page -= 1; draw(); });
    next.addEventListener("click", function () { page += 1; draw(); });
    draw();
    return {
      filter: function (test) {
        shown = test ? items.filter(test) : items;
        page = 0;
        draw();
        return shown.length;
      }
    };
  }
  const pagers = {};
  document.querySelectorAll("section.paged").forEach(function (s) { pagers[s.id] = pager(s); });
  const search = document.getElementById("search");
  const flag = document.getElementById("flag");
  const count = document.querySelector("#threads .count");
  let timer = null;
  function apply() {
    const q = search.value.trim().toLowerCase();
    const f = flag.value;
    const n = pagers.threads.filter(q || f ? function (el) {
      return (!q || el.dataset.s.indexOf(q) >= 0) &&
        (!f || (" " + el.dataset.f + " ").indexOf(" " + f + " ") >= 0);
    } : null);
    count.textContent = q || f ? n + " matching" : "";
  }
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(apply, 120); });
  flag.addEventListener("change", apply);
  document.body.dataset.ready = "1";
})();
