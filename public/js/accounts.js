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

// The permission grid lists the scopes authorised to the agencies the filer may file for; once a
// unit is chosen, rows its agency is not authorised for are hidden and unticked (the server
// refuses them anyway). Without script every listed row stays.
document.addEventListener('DOMContentLoaded', () => {
  const unit = document.querySelector('.request-form select[name="unit"]');
  const rows = document.querySelectorAll('.request-form .perm-grid tbody tr[data-scope]');
  if (!unit || !rows.length) return;
  const scopesOf = new Map();
  document.querySelectorAll('.request-form .unit-scopes li').forEach((li) => scopesOf.set(li.dataset.unit, (li.dataset.scopes || '').split(' ')));
  const kind = document.querySelector('.request-form select[name="kind"]');
  const sync = () => {
    const allowed = kind && kind.value === 'new' && unit.value ? scopesOf.get(unit.value) : null;
    rows.forEach((tr) => {
      const show = !allowed || allowed.includes(tr.dataset.scope);
      tr.hidden = !show;
      if (!show) tr.querySelectorAll('input[type="checkbox"]').forEach((c) => { c.checked = false; });
    });
  };
  unit.addEventListener('change', sync);
  if (kind) kind.addEventListener('change', sync);
  sync();
});
