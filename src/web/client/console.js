// The support console's only script (served as a file: the CSP allows no inline script). It is an
// enhancement: without it the "Impersonate" link opens the form as a page of its own and the form
// posts to a new tab. With it, the form opens as a modal dialog, a refusal is shown inside the
// dialog, and only an accepted request opens the application in a new tab (without window.opener).

const dialog = /** @type {HTMLDialogElement | null} */ (document.getElementById('impersonate-dialog'));
const openButton = document.getElementById('impersonate-open');
const statusBox = document.getElementById('impersonate-status');

if (dialog && openButton && statusBox && typeof dialog.showModal === 'function') {
  const form = /** @type {HTMLFormElement} */ (dialog.querySelector('form'));
  const error = /** @type {HTMLElement} */ (dialog.querySelector('#impersonate-error'));
  const submit = /** @type {HTMLButtonElement} */ (form.querySelector('button[type=submit]'));
  const reason = /** @type {HTMLTextAreaElement} */ (form.querySelector('textarea'));
  const client = /** @type {HTMLSelectElement} */ (form.querySelector('select'));

  /** @param {string} text */
  const showError = (text) => {
    error.textContent = text;
    error.hidden = false;
    reason.focus();
  };

  openButton.addEventListener('click', (event) => {
    event.preventDefault();
    error.hidden = true;
    dialog.showModal();
    reason.focus();
  });
  dialog.querySelector('[data-close]')?.addEventListener('click', () => dialog.close());

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const body = new URLSearchParams();
      for (const [name, value] of new FormData(form)) body.append(name, String(value));
      const response = await fetch(form.action, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body,
      });
      /** @type {{ login_url?: string, error_description?: string }} */
      const answer = await response.json().catch(() => ({}));
      if (!response.ok || !answer.login_url) {
        showError(answer.error_description || 'The impersonation was refused.');
        return;
      }
      window.open(answer.login_url, '_blank', 'noopener');
      dialog.close();
      statusBox.textContent = `Opened ${client.value} as ${form.dataset.subject} in a new tab. It ends within an hour, or when you revoke it below.`;
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
    if (!window.confirm(/** @type {HTMLElement} */ (button).dataset.confirm ?? 'Are you sure?')) event.preventDefault();
  });
}

export {};
