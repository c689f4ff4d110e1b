// Small progressive enhancements; pages work without script. No inline scripts (CSP).
document.addEventListener('DOMContentLoaded', () => {
  // Focus the first field with an error so keyboard users land on it.
  const bad = document.querySelector('[aria-invalid="true"]');
  if (bad) bad.focus();
  // Confirm buttons that carry data-confirm.
  document.querySelectorAll('[data-confirm]').forEach((el) => {
    el.addEventListener('click', (e) => { if (!window.confirm(el.getAttribute('data-confirm'))) e.preventDefault(); });
  });
});
