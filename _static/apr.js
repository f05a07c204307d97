// Figures are drawn wider than the text column: a click opens the full-size image, and on a phone a link under
// the figure says so.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".cell_output img, figure img").forEach((img) => {
    if (img.closest("a")) return;
    const link = document.createElement("a");
    link.href = img.getAttribute("src");
    link.className = "apr-enlarge";
    link.title = "Open the full-size figure";
    img.parentNode.insertBefore(link, img);
    link.appendChild(img);
    const full = document.createElement("a");
    full.href = link.href;
    full.className = "apr-full-size";
    full.textContent = "Open the full-size figure";
    link.insertAdjacentElement("afterend", full);
  });
  // A long path in a table cell may break after its separators (apr.css keeps other code whole).
  document.querySelectorAll(".bd-article td code.literal span.pre").forEach((span) => {
    if (span.textContent.length < 24) return;
    const parts = span.textContent.split(/(?<=[\/,])/);
    span.textContent = "";
    parts.forEach((part, k) => {
      if (k) span.appendChild(document.createElement("wbr"));
      span.appendChild(document.createTextNode(part));
    });
  });
  // The scorecard's cards (apr.css): each cell gets its column's name.
  document.querySelectorAll(".apr-cards table").forEach((table) => {
    const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
    table.querySelectorAll("tbody tr").forEach((row) => {
      [...row.children].forEach((cell, k) => {
        if (names[k]) cell.setAttribute("data-label", names[k]);
      });
    });
  });
});
