// The web UI in a real browser (Debian's chromium driven by playwright-core)
// against the real binary and the real test databases: log in, add and test
// connections, browse the schema, extract tables and a custom query, watch
// the cards, cancel, search, delete. Runs at 1280 px and at 390 px and saves
// screenshots of the main screens to build/screenshots/ (git-ignored), or to
// $VZ_SCREENSHOT_DIR: VZ_SCREENSHOT_DIR=docs/screenshots refreshes the ones
// the README shows, after a look at them.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from './lib/server.mjs';

const E = process.env;
for (const k of ['VZ_PG_PORT', 'VZ_MY_PORT', 'VZ_PG_RO_PASSWORD', 'VZ_MY_ADMIN_PASSWORD']) {
  if (!E[k]) throw new Error(`${k} is not set: run through 'make test' or eval "$(scripts/testdb.sh start)"`);
}
const CHROMIUM = E.VZ_CHROMIUM || '/usr/bin/chromium';
if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup-web.sh`);

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SHOTS = E.VZ_SCREENSHOT_DIR ? resolve(repo, E.VZ_SCREENSHOT_DIR) : join(repo, 'build', 'screenshots');
mkdirSync(SHOTS, { recursive: true });

// A table big enough to be refused by the cap below (3M rows > 2M) and
// still running when we cancel it with a row limit just under the cap. Its own name, so
// the API tests' big_events can run beside it.
const BIG = 'ui_big_events';
const CAP = 2000000;

function pgAdmin(sql) {
  return execFileSync('psql', ['-h', '127.0.0.1', '-p', E.VZ_PG_PORT, '-U', E.VZ_PG_ADMIN_USER,
    '-d', E.VZ_PG_DB, '-v', 'ON_ERROR_STOP=1', '-qAtc', sql],
  { env: { ...process.env, PGPASSWORD: E.VZ_PG_ADMIN_PASSWORD } }).toString();
}

let ctx;
let profile;
before(async () => {
  pgAdmin(`DROP TABLE IF EXISTS ${BIG};
    CREATE TABLE ${BIG} AS SELECT g AS id, md5(g::text) AS payload, now() AS at
      FROM generate_series(1, 3000000) g;
    GRANT SELECT ON ${BIG} TO ${E.VZ_PG_RO_USER}; ANALYZE ${BIG};`);
  profile = mkdtempSync(join(tmpdir(), 'vz-chromium-'));
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});
after(async () => {
  if (ctx) await ctx.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  pgAdmin(`DROP TABLE IF EXISTS ${BIG}`);
});

// Poll until fn() is truthy (it may throw meanwhile); the last error or a
// timeout message otherwise.
async function until(fn, what, ms = 30000) {
  const t0 = Date.now();
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) { last = e; }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 860, full: true },
  { name: 'mobile', width: 390, height: 844, full: false },
];

for (const vp of VIEWPORTS) {
  describe(`web UI at ${vp.width} px`, () => {
    let srv;
    let page;
    const problems = []; // page errors, console errors, CSP violations
    const shot = async (name, opts = {}) => {
      await page.waitForTimeout(150); // let transitions settle
      // Notifications come and go with the test's pace; keep them out of the picture.
      await page.evaluate(() => document.getElementById('toasts')?.replaceChildren());
      await page.screenshot({ path: join(SHOTS, `${vp.name}-${name}.png`), fullPage: opts.fullPage ?? false, ...opts });
    };
    const card = (text) => page.locator('.dataset-card', { hasText: text });
    const waitCard = (text, status, ms = 60000) => until(
      async () => (await card(text).first().getAttribute('data-status')) === status, `${text} to be ${status}`, ms);
    const dialog = () => page.locator('dialog#dialog');

    before(async () => {
      srv = await startServer({ env: { DB_EXTRACT_MAX_ROWS: String(CAP) } });
      page = await ctx.newPage();
      await page.setViewportSize({ width: vp.width, height: vp.height });
      page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
      page.on('console', (m) => {
        // 4xx answers the UI expects (wrong token, refused SQL, no search
        // yet) show up as "Failed to load resource"; anything else counts.
        if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) problems.push(`console: ${m.text()}`);
      });
    });
    after(async () => {
      if (page) await page.close();
      if (srv) await srv.stop();
    });

    test('login: a wrong token is refused, the right one opens the Database tab', async () => {
      await page.goto(`${srv.url}/`);
      await page.getByLabel('Admin token').waitFor();
      await shot('01-login');
      await page.getByLabel('Admin token').fill('vzt_wrong');
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByText('That token is not right').waitFor();
      await page.getByLabel('Admin token').fill(srv.token);
      await page.getByRole('button', { name: 'Log in' }).click();
      await page.getByRole('heading', { name: 'Database', level: 1 }).waitFor();
      await page.getByText('No connections yet').waitFor();
      await shot('02-empty');
      // A reload keeps the session (cookie) and the CSRF token.
      await page.reload();
      await page.getByRole('heading', { name: 'Database', level: 1 }).waitFor();
    });

    test('PostgreSQL connection: a wrong password fails with the reason; fixed, it connects', async () => {
      await page.getByRole('link', { name: /New connection|Add a connection/ }).first().click();
      await page.getByLabel('Name', { exact: true }).fill('Shop (PostgreSQL)');
      assert.equal(await page.getByLabel('Port').inputValue(), '5432');
      await page.getByLabel('Host').fill('127.0.0.1');
      await page.getByLabel('Port').fill(E.VZ_PG_PORT);
      await page.getByLabel('Database', { exact: true }).fill(E.VZ_PG_DB);
      await page.getByLabel('Username').fill(E.VZ_PG_RO_USER);
      await page.getByLabel('Password').fill('not-the-password');
      await page.getByLabel('SSL mode').selectOption('disable');
      await page.getByRole('button', { name: 'Save & test connection' }).click();
      const fail = page.locator('.test-fail');
      await fail.waitFor({ timeout: 15000 });
      assert.match(await fail.textContent(), /Could not connect/);
      assert.match(await fail.textContent(), /password|auth/i);
      assert.ok(!(await fail.textContent()).includes('not-the-password'), 'the password is never shown');
      await shot('03-test-failed');
      // Now editing the saved connection: the password field is empty and
      // says so; typing the right one and testing again connects.
      assert.match(page.url(), /#\/database\/[0-9a-f-]{36}\/edit$/);
      assert.equal(await page.getByLabel('Password').inputValue(), '');
      await page.getByLabel('Password').fill(E.VZ_PG_RO_PASSWORD);
      await page.getByRole('button', { name: 'Save & test connection' }).click();
      const ok = page.locator('.test-ok');
      await ok.waitFor({ timeout: 15000 });
      assert.match(await ok.textContent(), /Connected in \d+ ms/);
      assert.match(await ok.textContent(), /PostgreSQL|15\./);
      await shot('04-test-ok');
      // Saving again with the password left empty keeps the stored one.
      await page.getByRole('button', { name: 'Save', exact: true }).click();
      await page.locator('.detail-title', { hasText: 'Shop (PostgreSQL)' }).waitFor();
      await page.getByRole('button', { name: 'Test connection' }).click();
      await page.locator('.test-ok').waitFor({ timeout: 15000 });
      await page.locator('.conn-item .dot-connected').first().waitFor();
    });

    test('MySQL connection: the type switch sets port 3306; a writable user gets the read-only role SQL', async () => {
      await page.getByRole('link', { name: 'New connection' }).click();
      await page.getByLabel('Name', { exact: true }).fill('Warehouse (MySQL)');
      await page.getByLabel('Type').selectOption('mysql');
      assert.equal(await page.getByLabel('Port').inputValue(), '3306');
      assert.equal(await page.getByLabel('SSL mode').inputValue(), 'preferred');
      await page.getByLabel('Host').fill('127.0.0.1');
      await page.getByLabel('Port').fill(E.VZ_MY_PORT);
      await page.getByLabel('Database', { exact: true }).fill(E.VZ_MY_DB);
      await page.getByLabel('Username').fill(E.VZ_MY_ADMIN_USER);
      await page.getByLabel('Password').fill(E.VZ_MY_ADMIN_PASSWORD);
      await page.getByLabel('SSL mode').selectOption('disable');
      await page.getByRole('button', { name: 'Save & test connection' }).click();
      await page.locator('.test-ok').waitFor({ timeout: 15000 });
      await page.getByText('This user can write').waitFor();
      await page.getByRole('button', { name: 'Show read-only role SQL' }).click();
      const sql = page.locator('.role-sql pre');
      await sql.waitFor();
      assert.match(await sql.textContent(), /CREATE USER|GRANT SELECT/i);
      await page.getByRole('button', { name: 'Copy SQL' }).click();
      await page.getByRole('button', { name: /Copied|copy manually/ }).waitFor();
      await page.locator('.role-sql').scrollIntoViewIfNeeded();
      await shot('05-role-sql');
      await page.getByRole('link', { name: 'Browse tables →' }).click();
      await page.locator('.tbl').first().waitFor({ timeout: 15000 });
    });

    test('networking help (M5) shows for localhost only when vectoraiz runs in a container', async () => {
      for (const inContainer of [true, false]) {
        const p = await ctx.newPage();
        await p.setViewportSize({ width: vp.width, height: vp.height });
        await p.route('**/api/v1/system', (route) => route.fulfill({
          status: 200, contentType: 'application/json',
          body: JSON.stringify({ version: 'test', in_container: inContainer, container_hint: inContainer ? 'docker' : null }),
        }));
        await p.goto(`${srv.url}/#/database/new`);
        await p.getByLabel('Host').fill('localhost');
        const help = p.getByText('runs in a container');
        if (inContainer) {
          await help.waitFor();
          assert.ok(await p.getByText('host.docker.internal').first().isVisible());
          await p.screenshot({ path: join(SHOTS, `${vp.name}-06-network-help.png`) });
          await p.getByRole('button', { name: 'Use host.docker.internal' }).click();
          assert.equal(await p.getByLabel('Host').inputValue(), 'host.docker.internal');
          assert.equal(await help.isVisible(), false);
        } else {
          await p.waitForTimeout(200);
          assert.equal(await help.count(), 0);
        }
        await p.close();
      }
    });

    test('schema browser: schema picker, columns with types, PK and skipped, exclude a column', async () => {
      await page.goto(`${srv.url}/#/database`);
      await page.locator('.conn-item', { hasText: 'Shop (PostgreSQL)' }).click();
      const row = (name) => page.locator('.tbl', { has: page.locator('.tbl-name', { hasText: new RegExp(`^${name}$`) }) });
      await row('customers').waitFor({ timeout: 15000 });
      // Another schema, then back.
      await page.getByLabel('Schema', { exact: true }).selectOption('sales');
      await row('regions').waitFor();
      await page.getByLabel('Schema', { exact: true }).selectOption('public');
      await row('customers').waitFor();
      // all_types: a skipped binary column and Parquet types.
      await row('all_types').locator('.tbl-toggle').click();
      const allTypes = row('all_types').locator('.tbl-cols');
      await allTypes.waitFor();
      assert.ok(await allTypes.locator('.badge', { hasText: 'skipped' }).count() > 0);
      assert.ok(await allTypes.locator('input[type=checkbox]:disabled').count() > 0);
      await row('all_types').locator('.tbl-toggle').click();
      // customers: PK marker; leave out email.
      await row('customers').locator('.tbl-toggle').click();
      const cols = row('customers').locator('.tbl-cols');
      await cols.locator('.badge-pk').first().waitFor();
      assert.equal(await row('customers').locator('.tbl-toggle').getAttribute('aria-expanded'), 'true');
      await page.getByLabel('Extract column email of customers').uncheck();
      await row('customers').getByText('1 left out').waitFor();
      await page.getByLabel('Select customers', { exact: true }).check();
      await page.getByLabel('Select orders', { exact: true }).check();
      await page.getByText('2 tables selected · 1 column left out').waitFor();
      await page.locator('.schema-head').evaluate((e) => e.scrollIntoView({ block: 'start' }));
      await shot('07-schema');
      // Keyboard: the expander works with Enter.
      await row('orders').locator('.tbl-toggle').focus();
      await page.keyboard.press('Enter');
      assert.equal(await row('orders').locator('.tbl-toggle').getAttribute('aria-expanded'), 'true');
      await page.keyboard.press('Enter');
    });

    test('extract two tables: the dry run shows estimates; cards reach ready with a preview', async () => {
      await page.getByRole('button', { name: 'Extract 2 tables' }).click();
      const dlg = dialog();
      await dlg.getByText('Extract 2 tables from Shop (PostgreSQL)').waitFor();
      await dlg.getByRole('button', { name: 'Extract 2 tables' }).waitFor({ timeout: 15000 });
      assert.match(await dlg.locator('tr', { hasText: 'public.customers' }).textContent(), /~\s?\d+/);
      await shot('08-extract-dialog');
      await dlg.getByRole('button', { name: 'Extract 2 tables' }).click();
      await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
      await waitCard('public.customers', 'ready');
      await waitCard('public.orders', 'ready');
      const c = card('public.customers');
      await c.locator('.preview-table').waitFor({ timeout: 15000 });
      const headers = await c.locator('.preview-table th').allTextContents();
      assert.ok(headers.includes('name'), headers.join(','));
      assert.ok(!headers.includes('email'), 'the excluded column is not extracted');
      assert.match(await c.locator('.progress-text').textContent(), /50 rows/);
      assert.equal(await c.getByRole('link', { name: /Download/ }).getAttribute('href'),
        `/api/v1/datasets/${await c.getAttribute('data-id')}/download`);
      await shot('09-datasets-ready');
    });

    test('custom SQL: a write is refused inline; a SELECT becomes a dataset', async () => {
      await page.goto(`${srv.url}/#/database`);
      await page.locator('.conn-item', { hasText: 'Shop (PostgreSQL)' }).click();
      await page.getByRole('button', { name: /Advanced: extract a custom SQL query/ }).click();
      const editor = page.getByLabel('SQL query');
      await editor.fill('DELETE FROM customers');
      await page.getByLabel('Dataset name').fill('Orders by city');
      await page.getByRole('button', { name: 'Check query' }).click();
      const err = page.locator('.sql-feedback .inline-error');
      await err.waitFor();
      assert.match(await err.textContent(), /Not a read-only SELECT/);
      await editor.fill('SELECT c.city, count(*) AS orders\nFROM customers c\nJOIN orders o ON o.customer_id = c.id\nGROUP BY c.city\nORDER BY orders DESC, c.city');
      // Highlighted: keywords get their own class.
      await page.locator('.sql-editor .hljs-keyword', { hasText: 'SELECT' }).first().waitFor();
      await page.getByRole('button', { name: 'Check query' }).click();
      await page.getByText('One read-only SELECT; ready to extract').waitFor();
      await page.locator('.advanced-sql').scrollIntoViewIfNeeded();
      await shot('10-custom-sql');
      await page.getByRole('button', { name: 'Extract query' }).click();
      await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
      await waitCard('Orders by city', 'ready');
      await card('Orders by city').locator('.preview-table th', { hasText: 'city' }).waitFor({ timeout: 15000 });
    });

    if (vp.full) {
      test('a table over the row cap is refused with the server message; a row limit runs and Cancel stops it', async () => {
        await page.goto(`${srv.url}/#/database`);
        await page.locator('.conn-item', { hasText: 'Shop (PostgreSQL)' }).click();
        await page.getByLabel('Filter tables by name').fill('ui_big');
        await page.getByLabel(`Select ${BIG}`).check();
        await page.getByRole('button', { name: 'Extract selected' }).click();
        const dlg = dialog();
        const refusal = dlg.locator('.refusal');
        await refusal.waitFor({ timeout: 15000 });
        assert.match(await refusal.textContent(), /DB_EXTRACT_MAX_ROWS/);
        assert.ok(await dlg.getByText('consider a row limit').count() > 0, 'hint above 1M rows');
        await shot('11-refused');
        await dlg.getByLabel(`Row limit for ${BIG}`).fill('1999999');
        await dlg.getByRole('button', { name: 'Check again' }).click();
        await dlg.getByRole('button', { name: 'Extract 1 table' }).click();
        await page.getByRole('heading', { name: 'Datasets', level: 1 }).waitFor();
        const big = card(`public.${BIG}`);
        await until(async () => /rows\/s/.test(await big.locator('.progress-text').textContent()), 'rows to flow');
        assert.equal(await big.getAttribute('data-status'), 'extracting');
        await shot('12-extracting');
        await big.getByRole('button', { name: /Cancel extraction/ }).click();
        await waitCard(`public.${BIG}`, 'cancelled', 15000);
        assert.match(await big.textContent(), /cancel/i);
        assert.equal(await big.getByRole('button', { name: /Delete/ }).isVisible(), true);
      });

      test('re-extract a ready dataset and delete another', async () => {
        const c = card('public.orders');
        const before = await c.getAttribute('data-id');
        await c.getByRole('button', { name: /Re-extract/ }).click();
        await dialog().getByRole('button', { name: 'Re-extract' }).click();
        await waitCard('public.orders', 'ready');
        assert.equal(await card('public.orders').getAttribute('data-id'), before, 'same dataset, new version');
        await card(`public.${BIG}`).getByRole('button', { name: /Delete/ }).click();
        await dialog().getByRole('button', { name: 'Delete dataset' }).click();
        await until(async () => (await card(`public.${BIG}`).count()) === 0, 'the card to go');
      });
    }

    test('search and ask over the extracted datasets (real pipeline)', async () => {
      await page.getByRole('link', { name: 'Search' }).click();
      await page.getByRole('heading', { name: 'Search', level: 1 }).waitFor();
      await page.getByLabel('Orders by city').waitFor(); // ready datasets can be picked
      await page.getByLabel('Search your datasets').fill('refund');
      await page.getByRole('button', { name: 'Search', exact: true }).click();
      // customers 3, 11 and 20 mention a refund (tests/fixtures/pg.sql).
      const first = page.locator('p.result-text').first();
      await first.waitFor();
      assert.match(await first.innerText(), /refund/i);
      assert.equal((await first.locator('mark').first().innerText()).toLowerCase(), 'refund');
      // Open the result: the row with its dataset and primary key.
      const card = page.locator('.result').first();
      assert.match(await card.textContent(), /PK \d+/);
      await card.getByRole('button', { name: 'Open' }).click();
      await page.getByRole('dialog').getByText(/ · row \d+/).waitFor();
      await page.keyboard.press('Escape');
      await page.getByText('Ask', { exact: true }).click();
      await page.getByLabel('Your question').fill('Who wanted their money back?');
      await page.getByRole('button', { name: 'Ask', exact: true }).click();
      await page.locator('p.note').getByText(/no chat model/).waitFor();
      await shot('13-search');
    });

    if (vp.full) {
      // The search pipeline is not in this build; its planned answers are
      // stood in for here so the rendering is tested before it lands.
      test('search and ask results (planned API, stood in): highlights, cited rows, open a result', async () => {
        const results = [
          { dataset_id: 'd1', dataset_name: 'public.customers', source_table: 'public.customers', row_id: 3,
            text: 'name: Chloé Dubois | city: Lyon | notes: asked for a refund', score: 0.912, highlights: ['Lyon'] },
          { dataset_id: 'd1', dataset_name: 'public.customers', source_table: 'public.customers', row_id: 7,
            text: 'name: <b>Marc</b> | city: Lyon', score: 0.5, highlights: [[26, 30]] },
        ];
        await page.route('**/api/v1/search', (r) => r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ results }) }));
        await page.route('**/api/v1/ask', (r) => r.fulfill({
          status: 200, contentType: 'application/json',
          body: JSON.stringify({ answer: 'Two customers live in Lyon.', citations: [0], results, note: null }),
        }));
        try {
          const modeLabel = (m) => page.locator('.segmented label', { hasText: new RegExp(`^${m}$`) });
          await modeLabel('Search').click();
          await page.getByLabel('Search your datasets').fill('Lyon');
          await page.getByRole('button', { name: 'Search', exact: true }).click();
          const first = page.locator('.result').first();
          await first.waitFor();
          assert.equal(await first.locator('mark').first().textContent(), 'Lyon');
          assert.match(await first.textContent(), /PK 3/);
          // Markup in a row is text, never HTML.
          assert.match(await page.locator('.result').nth(1).locator('.result-text').textContent(), /<b>Marc<\/b>/);
          assert.equal(await page.locator('.result').nth(1).locator('mark').textContent(), 'Lyon');
          await first.getByRole('button', { name: 'Open' }).click();
          await dialog().getByText('public.customers · row 3').waitFor();
          await page.keyboard.press('Escape');
          await modeLabel('Ask').click();
          await page.getByLabel('Your question').fill('Who lives in Lyon?');
          await page.getByRole('button', { name: 'Ask', exact: true }).click();
          await page.getByText('Two customers live in Lyon.').waitFor();
          assert.equal(await page.locator('.results .result').count(), 1, 'only the cited row');
          await modeLabel('Search').click();
        } finally {
          await page.unroute('**/api/v1/search');
          await page.unroute('**/api/v1/ask');
        }
      });
    }

    test('delete a connection: its datasets stay, marked orphaned', async () => {
      await page.getByRole('link', { name: 'Database' }).click();
      await page.locator('.conn-item', { hasText: 'Warehouse (MySQL)' }).click();
      await page.getByRole('button', { name: 'Delete' }).click();
      await dialog().getByRole('button', { name: 'Delete connection' }).click();
      await until(async () => (await page.locator('.conn-item', { hasText: 'Warehouse (MySQL)' }).count()) === 0, 'the connection to go');
      await page.locator('.conn-item', { hasText: 'Shop (PostgreSQL)' }).click();
      await page.getByRole('button', { name: 'Delete' }).click();
      await dialog().getByRole('button', { name: 'Delete connection' }).click();
      await page.getByText('No connections yet').waitFor();
      await page.getByRole('link', { name: 'Datasets' }).click();
      await card('Orders by city').getByText('connection deleted').waitFor();
      assert.equal(await card('Orders by city').getByRole('button', { name: /Re-extract/ }).isVisible(), false);
    });

    test('log out returns to the login screen', async () => {
      await page.getByRole('button', { name: 'Log out' }).click();
      await page.getByLabel('Admin token').waitFor();
      await page.goto(`${srv.url}/#/datasets`);
      await page.getByLabel('Admin token').waitFor();
    });

    test('no script errors and no CSP violations on any screen', () => {
      assert.deepEqual(problems, []);
    });
  });
}
