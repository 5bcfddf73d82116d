/**
 * The support console's only script (served as a file: the CSP allows no inline script). It is an
 * enhancement: without it the "Impersonate" link opens the form as a page and the form posts to a
 * new tab. With it, the form opens as a modal dialog, a refusal is shown inside the dialog, and only
 * an accepted request opens the application in a new tab (without `window.opener`).
 */
export const CONSOLE_SCRIPT = `
const dialog = document.getElementById('impersonate-dialog');
const opener = document.getElementById('impersonate-open');
const statusBox = document.getElementById('impersonate-status');
if (dialog && opener && typeof dialog.showModal === 'function') {
  const form = dialog.querySelector('form');
  const error = dialog.querySelector('#impersonate-error');
  const submit = form.querySelector('button[type=submit]');
  const showError = (text) => { error.textContent = text; error.hidden = false; };
  opener.addEventListener('click', (event) => {
    event.preventDefault();
    error.hidden = true;
    dialog.showModal();
    form.querySelector('textarea').focus();
  });
  dialog.querySelector('[data-close]').addEventListener('click', () => dialog.close());
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const response = await fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(new FormData(form)),
      });
      const body = await response.json().catch(() => ({}));
      if (!response.ok) {
        showError(body.error_description || 'The impersonation was refused.');
        return;
      }
      window.open(body.login_url, '_blank', 'noopener');
      dialog.close();
      const client = form.querySelector('select').value;
      statusBox.textContent = 'Opened ' + client + ' as ' + form.dataset.subject + ' in a new tab. It ends within an hour, or when you revoke it below.';
      statusBox.hidden = false;
      form.reset();
    } catch {
      showError('The console could not reach the server. Try again.');
    } finally {
      submit.disabled = false;
    }
  });
}
for (const button of document.querySelectorAll('[data-confirm]')) {
  button.addEventListener('click', (event) => {
    if (!window.confirm(button.dataset.confirm)) event.preventDefault();
  });
}
`;
