// Length limits, told rather than enforced by cutting: a field with data-maxlength shows how much
// is typed against its limit as one types or pastes, and marks itself when over (the server refuses
// it, naming the field). A plain `maxlength` is turned into the same, because the browser would cut
// a longer paste silently. Characters are counted as the server counts them (code points).
document.addEventListener('DOMContentLoaded', () => {
  const length = (s) => [...s].length;
  document.querySelectorAll('input[maxlength]:not([type="hidden"]), textarea[maxlength]').forEach((el) => {
    const max = Number(el.getAttribute('maxlength'));
    if (!(max > 0) || !el.id) return;
    el.removeAttribute('maxlength');
    el.setAttribute('data-maxlength', String(max));
    if (!document.getElementById(el.id + '-limit')) {
      const p = document.createElement('p');
      p.className = 'hint limit';
      p.id = el.id + '-limit';
      p.textContent = `最多 ${max} 字`;
      el.insertAdjacentElement('afterend', p);
      el.setAttribute('aria-describedby', `${el.getAttribute('aria-describedby') || ''} ${p.id}`.trim());
    }
  });
  document.querySelectorAll('[data-maxlength]').forEach((el) => {
    const max = Number(el.getAttribute('data-maxlength'));
    const hint = document.getElementById(el.id + '-limit');
    if (!(max > 0) || !hint) return;
    const count = document.createElement('span');
    count.className = 'count';
    // Announced only when the field crosses its limit, not at every key.
    const status = document.createElement('span');
    status.className = 'sr';
    status.setAttribute('aria-live', 'polite');
    hint.append(count, status);
    const serverInvalid = el.getAttribute('aria-invalid') === 'true';
    let over = false;
    const sync = () => {
      const n = length(el.value);
      const nowOver = n > max;
      count.textContent = nowOver ? `，已輸入 ${n} 字，超過 ${n - max} 字` : `，已輸入 ${n} 字`;
      hint.classList.toggle('over', nowOver);
      if (nowOver !== over) status.textContent = nowOver ? `超過上限 ${n - max} 字` : '';
      over = nowOver;
      if (nowOver) el.setAttribute('aria-invalid', 'true');
      else if (!serverInvalid) el.removeAttribute('aria-invalid');
    };
    el.addEventListener('input', sync);
    sync();
  });
});
