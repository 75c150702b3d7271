// DESIGN: the status page, one HTML document served as is (GET / on the admin port). It holds
// its own style and script, so it works from an operator's browser with no other access: the
// script fetches /status.json once a second and redraws each table's body in place (the page
// is never reloaded, so a scrolled table stays put). A backend's row carries its state as a
// class (state-up, state-draining, ...), coloured as HAProxy's stats page colours them. Text
// from the gateway is put in with textContent, never as HTML.
#include "ctl/status_json.h"

namespace qgate::ctl {

std::string_view status_page_html() {
    static constexpr std::string_view kPage = R"html(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>qgate status</title>
<style>
body { font: 13px system-ui, sans-serif; margin: 1em 2em; color: #222; }
h1 { font-size: 18px; } h2 { font-size: 15px; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; } th, td { border: 1px solid #bbb; padding: 2px 8px; }
th { background: #eee; text-align: left; } td.n { text-align: right; }
tr.state-up td { background: #c4f5c4; } tr.state-draining td { background: #f5e6a0; }
tr.state-down td, tr.state-ejected td { background: #f5b4b4; }
#etcd { font-weight: bold; }
#updated { color: #666; } #errors { color: #a00; }
</style></head><body>
<h1>qgate status</h1>
<p id="updated">loading...</p><p id="errors"></p>
<h2>Listeners</h2><table id="listeners"><thead></thead><tbody></tbody></table>
<h2>Backends</h2><table id="backends"><thead></thead><tbody></tbody></table>
<h2>Routes</h2><table id="routes"><thead></thead><tbody></tbody></table>
<div id="fleet-part" hidden><h2>Fleet</h2><p id="etcd"></p>
<table id="fleet"><thead></thead><tbody></tbody></table></div>
<h2>Clients</h2><table id="clients"><thead></thead><tbody></tbody></table>
<h2>Counters</h2><table id="stats"><thead></thead><tbody></tbody></table>
<script>
'use strict';
const COLUMNS = {
  listeners: ['index', 'address', 'port', 'mode', 'group', 'shards', 'conns'],
  backends: ['name', 'group', 'address', 'source', 'state', 'conns', 'inflight', 'queued',
             'calls', 'errors', 'p50_us', 'p99_us', 'lasterror'],
  routes: ['order', 'match', 'users', 'target', 'policy', 'hits'],
  clients: ['id', 'user', 'address', 'listener', 'shard', 'calls', 'bytesin', 'bytesout',
            'inflight'],
  stats: ['name', 'value'],
  fleet: ['instance', 'address', 'generation', 'seen_ms', 'self'],
};
function cell(v) {
  const td = document.createElement('td');
  if (typeof v === 'number') td.className = 'n';
  td.textContent = v === null ? '' : Array.isArray(v) ? v.join(' ') : String(v);
  return td;
}
function draw(id, rows) {
  const table = document.getElementById(id);
  const cols = COLUMNS[id];
  if (!table.tHead.rows.length) {
    const tr = table.tHead.insertRow();
    for (const c of cols) {
      const th = document.createElement('th');
      th.textContent = c;
      tr.appendChild(th);
    }
  }
  const body = document.createElement('tbody');
  for (const r of rows) {
    const tr = body.insertRow();
    if (r.state !== undefined) { tr.className = 'state-' + r.state; tr.dataset.name = r.name; }
    for (const c of cols) tr.appendChild(cell(r[c]));
  }
  table.replaceChild(body, table.tBodies[0]);
}
async function refresh() {
  try {
    const s = await (await fetch('/status.json', { cache: 'no-store' })).json();
    for (const id of ['listeners', 'backends', 'routes', 'clients']) draw(id, s[id]);
    draw('stats', Object.entries(s.stats).map(([name, value]) => ({ name, value })));
    if (s.fleet !== undefined) {  // [fleet]: etcd's state, and the instances it lists
      document.getElementById('fleet-part').hidden = false;
      document.getElementById('etcd').textContent = 'etcd: ' + s.etcd;
      draw('fleet', s.fleet);
    }
    document.getElementById('errors').textContent = s.errors.join('; ');
    document.getElementById('updated').textContent = 'updated ' + new Date().toISOString();
  } catch (e) {
    document.getElementById('errors').textContent = 'cannot reach qgate: ' + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script></body></html>
)html";
    return kPage;
}

}  // namespace qgate::ctl
