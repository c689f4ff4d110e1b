// Recording page: keyboard friendly and quick to fill repeatedly. No inline scripts (CSP).
document.addEventListener('DOMContentLoaded', () => {
  const form = document.getElementById('record-form');
  if (!form) return;
  const req = document.getElementById('f-queryRequestId');
  const scope = document.getElementById('f-scope');
  const caseNo = document.getElementById('f-caseNo');
  const subject = document.getElementById('f-subjectValue');
  // Choosing a request form sets its business scope and case number, replacing the previous
  // form's: an entry under form 5 must not keep form 4's 案號 (the server refuses it too).
  if (req) req.addEventListener('change', () => {
    const opt = req.selectedOptions[0];
    if (!opt || !opt.value) return;
    if (scope && opt.dataset.scope) scope.value = opt.dataset.scope;
    if (caseNo && opt.dataset.case) caseNo.value = opt.dataset.case;
  });
  // After a successful entry the case stays filled in: go straight to the next subject.
  if (!document.querySelector('[aria-invalid="true"]') && subject) {
    const filled = caseNo && caseNo.value && scope && scope.value;
    (filled ? subject : (req || caseNo)).focus();
  }
  document.addEventListener('keydown', (e) => {
    if (e.altKey && (e.key === 'i' || e.key === 'I') && subject) { e.preventDefault(); subject.focus(); }
  });
  // Subject IDs are upper-cased as typed.
  const type = document.getElementById('f-subjectType');
  if (subject) subject.addEventListener('blur', () => {
    if (type && (type.value === 'national-id' || type.value === 'resident-certificate')) subject.value = subject.value.trim().toUpperCase();
  });
});
