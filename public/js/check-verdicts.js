// The check page without reloads (issue 17). Progressive enhancement: every form below works
// without script (post, then the page again); with script, a verdict and "the remaining items are
// 適當" are posted asking for JSON and the rows change in place, the bar keeps the counts, and
// the keyboard moves item to item. No inline script (CSP); nothing here decides anything the
// server does not check again.
document.addEventListener('DOMContentLoaded', () => {
  const table = document.querySelector('table.check-items');
  const bar = document.getElementById('check-bar');
  if (!table || !bar) return;
  const status = bar.querySelector('[data-status]');
  const bulk = bar.querySelector('form.remaining');
  const rows = () => Array.from(table.querySelectorAll('tbody tr[data-key]'));
  const rowOf = (key) => table.querySelector(`tbody tr[data-key="${CSS.escape(key)}"]`);
  const labelOf = (verdict) => ({ proper: '適當', improper: '不當', 'explanation-needed': '請說明' })[verdict] || '';
  const itemName = (row) => {
    const key = row.getAttribute('data-key');
    return key.startsWith('r') ? `來源紀錄第 ${key.slice(1)} 筆` : `日誌編號 ${key}`;
  };
  // The element a row's item is reached by: its 「適當」 button, else its verdict select.
  const target = (row) => row.querySelector('form.verdict button.quick') || row.querySelector('form.verdict select');

  // ── counts and the bar ──
  const refresh = (remaining) => {
    const mine = rows().filter((r) => r.hasAttribute('data-mine'));
    const undecided = mine.filter((r) => r.getAttribute('data-verdict') === '').length;
    const waiting = mine.filter((r) => r.getAttribute('data-verdict') === 'explanation-needed').length;
    bar.querySelector('[data-count="undecided"]').textContent = String(undecided);
    bar.querySelector('[data-count="waiting"]').textContent = String(waiting);
    if (bulk && Array.isArray(remaining)) {
      bulk.querySelector('[data-count="remaining"]').textContent = String(remaining.length);
      bulk.querySelector('input[name="count"]').value = String(remaining.length);
      bulk.hidden = remaining.length === 0;
    }
  };
  // The live region says what happened; the counts stay in it.
  const announce = (text) => {
    let note = bar.querySelector('[data-said]');
    if (!note) {
      note = document.createElement('span');
      note.setAttribute('data-said', '');
      status.after(note);
      note.before(document.createTextNode(' '));
    }
    note.textContent = text;
  };

  // ── errors beside the fields ──
  const clearErrors = (form) => {
    form.querySelectorAll('.error[data-js]').forEach((el) => el.remove());
    form.querySelectorAll('[aria-invalid="true"]').forEach((el) => { el.removeAttribute('aria-invalid'); el.removeAttribute('aria-describedby'); });
  };
  const showErrors = (form, problem) => {
    const key = form.getAttribute('data-key');
    const more = form.querySelector('details.more');
    if (more) more.open = true;
    const fields = { verdict: form.querySelector('select'), note: form.querySelector('textarea') };
    let first = null;
    for (const e of (problem && problem.errors) || []) {
      const el = fields[e.field];
      if (!el) continue;
      const p = document.createElement('p');
      p.className = 'error';
      p.setAttribute('data-js', '');
      p.id = `${e.field}-${key}-error`;
      p.textContent = e.message;
      el.after(p);
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-describedby', p.id);
      first = first || el;
    }
    if (!first) {
      const p = document.createElement('p');
      p.className = 'error';
      p.setAttribute('data-js', '');
      p.setAttribute('role', 'alert');
      p.textContent = (problem && problem.detail) || '未能儲存，請重新整理頁面後再試。';
      form.querySelector('input[name="_csrf"]').after(p);
    }
    announce(`${itemName(form.closest('tr'))}未儲存：${(problem && problem.detail) || ''}`);
    if (first) first.focus();
  };

  const post = async (form, extra) => {
    const body = new URLSearchParams(new FormData(form));
    for (const [k, v] of Object.entries(extra || {})) body.set(k, v);
    const res = await fetch(form.action, { method: 'POST', credentials: 'same-origin', headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' }, body });
    let json = null;
    try { json = await res.json(); } catch { json = null; }
    return { ok: res.ok, json };
  };
  const busy = (form, on) => {
    form.setAttribute('aria-busy', on ? 'true' : 'false');
    form.querySelectorAll('button').forEach((b) => { b.disabled = on; });
  };

  // ── moving item to item ──
  const focusRow = (row) => {
    const el = row && target(row);
    if (!el) return false;
    rows().forEach((r) => r.classList.toggle('current', r === row));
    el.focus({ preventScroll: true });
    row.scrollIntoView({ block: 'center' });
    return true;
  };
  const move = (from, step) => {
    const list = rows().filter((r) => target(r));
    const at = list.indexOf(from);
    const next = list[at < 0 ? 0 : at + step];
    if (next) focusRow(next);
  };
  // After a verdict: the next item nobody has decided, else the sign-off.
  const onward = (from) => {
    const list = rows();
    const after = list.slice(list.indexOf(from) + 1).concat(list.slice(0, list.indexOf(from)));
    const next = after.find((r) => r.getAttribute('data-verdict') === '' && target(r));
    if (next) return focusRow(next);
    const box = document.getElementById('sign-confirm');
    if (box) { box.focus({ preventScroll: true }); box.scrollIntoView({ block: 'center' }); }
  };

  const showVerdict = (row, verdict, note) => {
    row.setAttribute('data-verdict', verdict);
    row.classList.add('saved');
    const now = row.querySelector('.verdict-now');
    now.textContent = '';
    const strong = document.createElement('strong');
    strong.textContent = labelOf(verdict);
    now.append(strong);
    if (note) now.append(document.createTextNode(`：${note}`));
    const select = row.querySelector('form.verdict select');
    if (select) select.value = verdict;
    // Folded again once saved, when the row has its one-press 「適當」 to come back by.
    const more = row.querySelector('form.verdict details.more');
    if (more && row.querySelector('form.verdict button.quick')) more.open = false;
  };

  table.addEventListener('submit', async (ev) => {
    const form = ev.target.closest('form.verdict');
    if (!form) return;
    ev.preventDefault();
    const row = form.closest('tr');
    const quick = ev.submitter && ev.submitter.name === 'quick';
    clearErrors(form);
    busy(form, true);
    let r;
    try {
      r = await post(form, quick ? { quick: 'proper' } : {});
    } catch {
      r = { ok: false, json: { detail: '無法連線到伺服器，判定未儲存，請稍後再試。' } };
    }
    busy(form, false);
    if (!r.ok || !r.json) return showErrors(form, r.json);
    showVerdict(row, r.json.verdict, r.json.note);
    refresh(r.json.remaining);
    announce(`${itemName(row)}：${r.json.verdictLabel}。${r.json.investigationId ? r.json.message : ''}`);
    onward(row);
  });

  if (bulk) {
    bulk.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      bar.querySelectorAll('.error[data-js]').forEach((el) => el.remove());
      busy(bulk, true);
      let r;
      try {
        r = await post(bulk);
      } catch {
        r = { ok: false, json: { detail: '無法連線到伺服器，判定未儲存，請稍後再試。' } };
      }
      busy(bulk, false);
      if (!r.ok || !r.json) {
        const p = document.createElement('p');
        p.className = 'error';
        p.setAttribute('data-js', '');
        p.setAttribute('role', 'alert');
        p.textContent = (r.json && r.json.detail) || '未能儲存，請重新整理頁面後再試。';
        bar.append(p);
        return;
      }
      for (const key of r.json.keys) {
        const row = rowOf(key);
        if (row) showVerdict(row, 'proper', null);
      }
      refresh(r.json.remaining);
      announce(r.json.message);
      onward(rows()[rows().length - 1]);
    });
  }

  // J/K anywhere in the table but a text field; ↓/↑ on a button (a select keeps its own arrows).
  table.addEventListener('keydown', (ev) => {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const el = ev.target;
    const tag = el.tagName;
    const row = el.closest('tr[data-key]');
    if (!row || tag === 'TEXTAREA' || tag === 'INPUT') return;
    const k = ev.key;
    let step = 0;
    if (k === 'j' || k === 'J') step = 1;
    else if (k === 'k' || k === 'K') step = -1;
    else if (tag === 'BUTTON' && k === 'ArrowDown') step = 1;
    else if (tag === 'BUTTON' && k === 'ArrowUp') step = -1;
    if (!step) return;
    ev.preventDefault();
    move(row, step);
  });
  table.addEventListener('focusin', (ev) => {
    const row = ev.target.closest('tr[data-key]');
    rows().forEach((r) => r.classList.toggle('current', r === row));
  });
});
