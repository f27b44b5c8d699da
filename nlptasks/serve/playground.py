"""The playground page served at ``/``: one form per task, plain HTML and a little inline JavaScript
(no CDN, works offline). Each form posts one record to ``/v1/{task}`` and shows the output and its cost."""
from __future__ import annotations

import html

PLACEHOLDERS = {"text": "a fine film with a weak ending", "document": "Paste a document to summarize.",
                "question": "What was fine?", "context": "The film was fine, but the ending was weak.",
                "history": "Hello! How are you?"}

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;color:#222}
section.task{border:1px solid #ccc;border-radius:6px;padding:.5rem 1rem;margin:1rem 0}
label{display:block;font-weight:600;margin-top:.5rem}
textarea{width:100%;box-sizing:border-box;font:inherit}
pre.output{background:#f6f6f6;padding:.5rem;white-space:pre-wrap;min-height:1.2em}
p.cost{color:#555;font-size:.9em}
.error{color:#a00}
"""

SCRIPT = """
function fmtCost(c){
  if(!c) return '';
  var parts = [];
  if(c.model_time_s != null) parts.push((c.model_time_s*1000).toFixed(1) + ' ms model time');
  if(c.energy_kwh != null) parts.push((c.energy_is_estimate ? '~' : '') + (c.energy_kwh*1000).toPrecision(2) + ' Wh');
  if(c.co2e_g != null) parts.push((c.energy_is_estimate ? '~' : '') + c.co2e_g.toPrecision(2) + ' gCO2e');
  parts.push('batch of ' + c.batch_items + ' item(s) from ' + c.batch_requests + ' request(s)');
  return 'cost: ' + parts.join(', ');
}
async function runTask(form){
  var task = form.getAttribute('data-task');
  var out = form.querySelector('pre.output'), cost = form.querySelector('p.cost');
  var rec = {};
  form.querySelectorAll('[data-field]').forEach(function(el){
    var f = el.getAttribute('data-field');
    rec[f] = el.getAttribute('data-kind') === 'turns'
      ? el.value.split('\\n').filter(function(s){ return s.trim(); }) : el.value;
  });
  var headers = {'Content-Type': 'application/json'};
  var key = document.getElementById('api-key').value;
  if(key) headers['Authorization'] = 'Bearer ' + key;
  form.setAttribute('data-state', 'running'); out.className = 'output'; out.textContent = 'running...'; cost.textContent = '';
  try {
    var r = await fetch('v1/' + encodeURIComponent(task), {method: 'POST', headers: headers, body: JSON.stringify({inputs: [rec]})});
    var body = await r.json();
    if(!r.ok){
      out.className = 'output error';
      out.textContent = 'error ' + r.status + ': ' + ((body.error && body.error.message) || r.statusText);
      form.setAttribute('data-state', 'error');
      return;
    }
    out.textContent = JSON.stringify(body.outputs[0], null, 2);
    cost.textContent = fmtCost(body.cost);
    form.setAttribute('data-state', 'done');
  } catch(e) {
    out.className = 'output error'; out.textContent = 'error: ' + e; form.setAttribute('data-state', 'error');
  }
}
document.querySelectorAll('form.task-form').forEach(function(form){
  form.addEventListener('submit', function(ev){ ev.preventDefault(); runTask(form); });
});
"""


def render(tasks: list[dict], auth: bool) -> str:
    """The page for the served tasks (``ServedTask.info()`` dicts)."""
    e = html.escape
    sections = []
    for t in tasks:
        fields = []
        for f in t["inputs"]:
            kind = t["field_kinds"].get(f, "str")
            hint = " (one turn per line)" if kind == "turns" else ""
            rows = 6 if f in ("document", "context") else 2
            fields.append(f'<label for="{e(t["name"])}-{e(f)}">{e(f)}{hint}</label>'
                          f'<textarea id="{e(t["name"])}-{e(f)}" data-field="{e(f)}" data-kind="{e(kind)}" '
                          f'rows="{rows}" placeholder="{e(PLACEHOLDERS.get(f, ""))}"></textarea>')
        sections.append(
            f'<section class="task" id="task-{e(t["name"])}"><h2>{e(t["name"])}</h2>'
            f'<p>{e(t["description"])} Model: <code>{e(t["model"])}</code>.</p>'
            f'<form class="task-form" data-task="{e(t["name"])}">{"".join(fields)}'
            f'<p><button type="submit">Run {e(t["name"])}</button></p>'
            f'<pre class="output" aria-live="polite"></pre><p class="cost"></p></form></section>')
    key_row = ('<p><label for="api-key">API key</label><input id="api-key" type="password" autocomplete="off" '
               'size="40"></p>' if auth else '<input id="api-key" type="hidden" value="">')
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>nlptasks playground</title><style>{STYLE}</style></head><body>"
            "<h1>nlptasks playground</h1><p>Each form sends one record to <code>POST /v1/TASK</code>; "
            "the API is described at <a href=\"docs\">/docs</a>, metrics at <a href=\"metrics\">/metrics</a>.</p>"
            f"{key_row}{''.join(sections)}<script>{SCRIPT}</script></body></html>")
