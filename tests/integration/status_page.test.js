'use strict';
// The status page (issue 17): GET / on the admin port serves one HTML page whose script fills
// its tables from /status.json and refreshes them in place. Rendered by Debian's headless
// chromium (installed by tools/lib/setup.sh), which runs the page's script and prints the DOM
// it built (--dump-dom after --virtual-time-budget: the fetch and the first redraw happen
// inside that budget). The rendered page lists the backends with their state; after
// .qgate.drain[`hdb1] a fresh render shows hdb1 as draining and the others still up.

const { execFile } = require('node:child_process');
const http = require('node:http');
const { itest, assert, startStack, qconnect, pollUntil } = require('./lib.js');

const CHROMIUM = '/usr/bin/chromium';
const OPS = { user: 'ops', password: 'pw' };

/** The DOM chromium built from `url` once the page's script ran (about 2 s of page time). */
function renderedDom(ctx, url) {
  const args = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
    `--user-data-dir=${ctx.dir}/chromium`, '--virtual-time-budget=2000', '--dump-dom', url];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, args, { timeout: 60000, maxBuffer: 16 << 20 }, (err, out, errText) => {
      if (err) reject(new Error(`chromium: ${err.message}\n${errText}`));
      else resolve(out);
    });
  });
}

/** The backend rows of a rendered page: name → state (from each row's class). */
function backendStates(dom) {
  const states = {};
  for (const m of dom.matchAll(/<tr class="state-([a-z]+)" data-name="([^"]+)">/g)) {
    states[m[2]] = m[1];
  }
  return states;
}

function get(port, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode, type: res.headers['content-type'], body }));
    }).on('error', reject);
  });
}

itest('status page: chromium renders the backends with their state; a drained one shows draining',
  { timeout: 120000 }, async (t, ctx) => {
    const { gw } = await startStack(ctx, {
      users: ['ops:pw:admin'],
      listeners: [{ mode: 'request', group: 'hdb' }],
      backends: [{ name: 'hdb1', group: 'hdb' }, { name: 'hdb2', group: 'hdb' }],
    });
    const page = await get(gw.admin, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
    const data = JSON.parse((await get(gw.admin, '/status.json')).body);
    assert.deepEqual(data.backends.map((b) => b.name).sort(), ['hdb1', 'hdb2']);

    const url = `http://127.0.0.1:${gw.admin}/`;
    // The pool connections come up just after start: render until both show up.
    let states = {};
    await pollUntil(async () => {
      states = backendStates(await renderedDom(ctx, url));
      return states.hdb1 === 'up' && states.hdb2 === 'up';
    }, { what: 'both backends up on the page', timeoutMs: 60000 });
    t.diagnostic(`rendered: ${JSON.stringify(states)}`);

    const q = await qconnect(ctx, gw.admin, OPS);
    assert.equal((await q.k('.qgate.drain', '`hdb1')).state, 'draining');
    const dom = await renderedDom(ctx, url);
    assert.deepEqual(backendStates(dom), { hdb1: 'draining', hdb2: 'up' });
    assert.match(dom, /<td>draining<\/td>/, 'the state column says draining');
    assert.match(dom, /id="updated">updated \d{4}-/, 'the script ran and refreshed the page');
  });
