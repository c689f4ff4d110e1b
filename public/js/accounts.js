// Account request form: show only the sections that belong to the chosen request kind.
// Without script every section stays visible and the server ignores the ones that do not apply.
document.addEventListener('DOMContentLoaded', () => {
  const kind = document.querySelector('.request-form select[name="kind"]');
  if (!kind) return;
  const sync = () => {
    document.querySelectorAll('.request-form .for-kind').forEach((el) => {
      const kinds = (el.getAttribute('data-kinds') || '').split(' ');
      el.hidden = !kinds.includes(kind.value);
    });
  };
  kind.addEventListener('change', sync);
  sync();
});
