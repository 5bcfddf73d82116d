import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Context } from 'koa';

/** The stylesheet of the extension's pages (admin console, subject's page): served as a file, so CSP needs no inline style. */
export const STYLESHEET = `
:root{--ink:#17202e;--muted:#5b6473;--line:#dfe3ea;--bg:#f5f6f8;--card:#fff;--brand:#1f4fd1;--brand-ink:#fff;--danger:#b42318;--danger-bg:#fef3f2;--ok:#067647;--ok-bg:#ecfdf3;--warn:#93370d;--warn-bg:#fffaeb;--focus:#f79009}
*{box-sizing:border-box}
html{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--ink);background:var(--bg)}
body{margin:0}
a{color:var(--brand)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.visually-hidden{position:absolute;width:1px;height:1px;margin:-1px;padding:0;border:0;overflow:hidden;clip:rect(0 0 0 0);clip-path:inset(50%);white-space:nowrap}
.skip{position:absolute;left:-999px;top:0;background:#fff;padding:.5rem 1rem;z-index:10}.skip:focus{left:1rem}
.topbar{background:#111827;color:#fff}
.topbar-inner{max-width:72rem;margin:0 auto;padding:.7rem 1.25rem;display:flex;align-items:center;gap:1.5rem;flex-wrap:wrap}
.brand{font-weight:700;letter-spacing:.01em}
.topbar nav ul{list-style:none;display:flex;gap:.25rem;margin:0;padding:0;flex-wrap:wrap}
.topbar nav a{color:#d1d5db;text-decoration:none;padding:.35rem .7rem;border-radius:6px;display:inline-block}
.topbar nav a:hover{color:#fff;background:#1f2937}
.topbar nav a[aria-current=page]{color:#fff;background:#374151}
.signout{margin-left:auto;display:flex;align-items:center;gap:.75rem}
.who{color:#d1d5db;font-size:.9rem}
main{max-width:72rem;margin:0 auto;padding:1.75rem 1.25rem 4rem}
main:focus{outline:none}
h1{font-size:1.6rem;margin:.2rem 0 .4rem}
h2{font-size:1.15rem;margin:1.8rem 0 .6rem}
.lead{color:var(--muted);margin:0 0 1.4rem;max-width:46rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1.1rem 1.25rem;margin:0 0 1.25rem}
.toolbar{display:flex;gap:.75rem;align-items:flex-end;flex-wrap:wrap}
.toolbar .grow{flex:1 1 16rem}
label{display:block;font-weight:600;font-size:.9rem;margin:0 0 .3rem}
.hint{display:block;font-weight:400;color:var(--muted);font-size:.85rem}
input:not([type]),input[type=text],input[type=email],input[type=search],input[type=password],input[type=datetime-local],select,textarea{font:inherit;width:100%;padding:.5rem .65rem;border:1px solid #b9c0cc;border-radius:7px;background:#fff;color:var(--ink)}
textarea{min-height:6rem;resize:vertical}
.button{font:inherit;font-weight:600;display:inline-block;padding:.5rem 1rem;border-radius:7px;border:1px solid var(--brand);background:var(--brand);color:var(--brand-ink);cursor:pointer;text-decoration:none;line-height:1.3}
.button:hover{filter:brightness(1.08)}
.button.secondary{background:#fff;color:var(--brand)}
.button.danger{background:var(--danger);border-color:var(--danger);color:#fff}
.button.subtle{background:transparent;border-color:#6b7280;color:#e5e7eb;font-weight:500;padding:.3rem .7rem}
.button.small{padding:.3rem .65rem;font-size:.88rem}
table{width:100%;border-collapse:collapse;background:var(--card)}
.table-wrap{position:relative;overflow-x:auto;border:1px solid var(--line);border-radius:10px;background:var(--card)}
th,td{text-align:left;padding:.6rem .8rem;border-bottom:1px solid var(--line);vertical-align:top;font-size:.94rem}
th{font-size:.8rem;text-transform:uppercase;letter-spacing:.04em;color:var(--muted);background:#fafbfc}
tr:last-child td{border-bottom:0}
td.actions{white-space:nowrap;text-align:right}
td form{display:inline}
.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
.badge{display:inline-block;font-size:.78rem;font-weight:700;padding:.12rem .55rem;border-radius:999px;border:1px solid transparent;white-space:nowrap}
.badge.live{color:var(--ok);background:var(--ok-bg);border-color:#abefc6}
.badge.ended{color:#344054;background:#f2f4f7;border-color:#d0d5dd}
.badge.denied{color:var(--danger);background:var(--danger-bg);border-color:#fecdca}
.badge.warn{color:var(--warn);background:var(--warn-bg);border-color:#fedf89}
.badge.info{color:#1d3a8a;background:#eff4ff;border-color:#c7d7fe}
h3{font-size:1rem;margin:1.2rem 0 .5rem}
ul.plain{list-style:none;margin:0;padding:0}
.card>h2:first-child{margin-top:0}
.card.request{margin:0}
.card.request p{margin:0 0 .7rem}
.notices li{padding:.55rem .9rem;border-left:3px solid var(--line);background:var(--card);margin:0 0 .45rem;border-radius:0 8px 8px 0}
details{margin:1rem 0}
details summary{cursor:pointer;color:var(--brand);font-weight:600}
details li{margin:.4rem 0}
fieldset.choice{border:1px solid var(--line);border-radius:8px;padding:.6rem .9rem;margin:0}
fieldset.choice legend{font-weight:600;font-size:.9rem;padding:0 .3rem}
fieldset.choice label{font-weight:400;display:flex;gap:.5rem;align-items:center;margin:.25rem 0}
.alert{border-radius:8px;padding:.75rem 1rem;margin:0 0 1.2rem;border:1px solid}
.alert.error{color:var(--danger);background:var(--danger-bg);border-color:#fecdca}
.alert.ok{color:var(--ok);background:var(--ok-bg);border-color:#abefc6}
.alert.info{color:#1d2939;background:#eff4ff;border-color:#c7d7fe}
.alert.warn{color:var(--warn);background:var(--warn-bg);border-color:#fedf89}
.empty{color:var(--muted);padding:1.2rem;text-align:center}
.meta{color:var(--muted);font-size:.88rem}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.25rem;margin:0}
dl.facts dt{color:var(--muted)}dl.facts dd{margin:0}
.stack>*+*{margin-top:1rem}
.row{display:flex;gap:1rem;flex-wrap:wrap;align-items:center}
.pager{display:flex;justify-content:space-between;align-items:center;margin-top:.8rem}
dialog{border:0;border-radius:12px;padding:0;max-width:34rem;width:calc(100% - 2rem);box-shadow:0 20px 60px rgba(16,24,40,.35)}
dialog::backdrop{background:rgba(16,24,40,.55)}
.dialog-body{padding:1.3rem 1.4rem}
.dialog-body h2{margin-top:0}
.filters{display:grid;grid-template-columns:repeat(4,minmax(0,1fr));gap:.75rem 1rem;align-items:end}
.filters input,.filters select{height:2.6rem}
.filters .filter-actions{grid-column:span 2;display:flex;gap:1rem;align-items:center;justify-content:flex-end}
@media (max-width:56rem){.filters{grid-template-columns:repeat(2,minmax(0,1fr))}}
@media (max-width:30rem){.filters{grid-template-columns:minmax(0,1fr)}.filters .filter-actions{grid-column:auto;justify-content:flex-start}}
td time{white-space:nowrap}
.dialog-actions{display:flex;justify-content:flex-end;gap:.6rem;padding:.9rem 1.4rem;background:#f9fafb;border-top:1px solid var(--line)}
.switch-state{font-size:1.05rem;font-weight:700}
.switch-state.on{color:var(--ok)}.switch-state.off{color:var(--danger)}
@media (prefers-reduced-motion:reduce){*{transition:none!important;animation:none!important}}
`;

/** Which files a page app serves under `<base>/assets/`: the stylesheet always, the console's script when asked. */
export interface AssetOptions {
  readonly script?: boolean;
}

/** The console's script (a checked browser file, tsconfig.browser.json), served as a file: no inline script. */
const CONSOLE_SCRIPT_FILE = fileURLToPath(new URL('./client/console.js', import.meta.url));
let script: Promise<string> | undefined;

/** Answers `GET /assets/app.css` (and `/assets/app.js` with `script`), cached for an hour; false for any other path. */
export async function serveAsset(ctx: Context, path: string, options: AssetOptions): Promise<boolean> {
  const body = path === '/assets/app.css' ? STYLESHEET : options.script && path === '/assets/app.js' ? await (script ??= readFile(CONSOLE_SCRIPT_FILE, 'utf8')) : undefined;
  if (body === undefined) return false;
  ctx.type = path.endsWith('.css') ? 'text/css' : 'text/javascript';
  ctx.set('Cache-Control', 'public, max-age=3600');
  ctx.set('X-Content-Type-Options', 'nosniff');
  ctx.body = body;
  return true;
}
