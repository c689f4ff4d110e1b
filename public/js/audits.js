// Export progress: polls /api/v1/exports/:id until the workbook is done. No inline script (CSP).
document.addEventListener('DOMContentLoaded', () => {
  const box = document.getElementById('export');
  if (!box || box.dataset.status !== 'running') return;
  const id = box.dataset.exportId;
  const bar = document.getElementById('export-progress');
  const state = document.getElementById('export-state');
  const dl = document.getElementById('export-download');
  const sha = document.getElementById('export-sha');
  const tick = async () => {
    try {
      const res = await fetch(`/api/v1/exports/${encodeURIComponent(id)}`, { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (!res.ok) throw new Error(String(res.status));
      const x = await res.json();
      const pct = Math.round(x.progress * 100);
      bar.value = pct;
      bar.textContent = `${pct}%`;
      if (x.status === 'done') {
        state.textContent = '完成';
        sha.textContent = x.sha256 || '';
        dl.hidden = false;
        return;
      }
      if (x.status === 'failed') {
        state.textContent = x.error || '產製失敗，請稍後再試。';
        return;
      }
      state.textContent = `產製中…（${pct}%）${x.note ? '：' + x.note : ''}`;
    } catch {
      state.textContent = '暫時無法取得進度，稍後自動重試…';
    }
    setTimeout(tick, 1000);
  };
  setTimeout(tick, 500);
});
