// Monthly checks: print button on the query record sheet; warn before leaving a verdict form unsaved.
document.addEventListener('DOMContentLoaded', () => {
  document.querySelectorAll('[data-print]').forEach((b) => b.addEventListener('click', () => window.print()));
  let dirty = false;
  document.querySelectorAll('form.verdict select, form.verdict textarea').forEach((el) => el.addEventListener('change', () => { dirty = true; }));
  document.querySelectorAll('form.verdict').forEach((f) => f.addEventListener('submit', () => { dirty = false; }));
  window.addEventListener('beforeunload', (e) => { if (dirty) e.preventDefault(); });
});
