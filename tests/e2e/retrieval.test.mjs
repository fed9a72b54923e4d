// Retrieval quality, measured on the real binary (issue 8, "Proof"): a
// generated table of 2,400 products with 32 planted rows whose descriptions
// carry distinctive facts; each planted row gets a keyword question (a rare
// exact word of the row) and a paraphrase (same meaning, none of the row's
// words of 4+ letters). recall@5 and MRR@10 for keyword, vector and hybrid
// search, over all 64 questions and each half. Hybrid must be at least as
// good as either mode alone on recall@5, and vector must beat keyword on the
// paraphrases. The measured table is also written to bench/retrieval-latest.md.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, api } from './lib/server.mjs';

const E = process.env;
if (!E.VZ_PG_PORT) throw new Error("run through 'make test' or eval \"$(scripts/testdb.sh start)\"");

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TABLE = 'kb_products';
const ROWS = 2400;

function pgAdmin(sql) {
  return execFileSync('psql', ['-h', '127.0.0.1', '-p', E.VZ_PG_PORT, '-U', E.VZ_PG_ADMIN_USER,
    '-d', E.VZ_PG_DB, '-v', 'ON_ERROR_STOP=1', '-qAt'],
  { input: sql, env: { ...process.env, PGPASSWORD: E.VZ_PG_ADMIN_PASSWORD }, maxBuffer: 64 << 20 }).toString();
}

// ---- the generated table ----------------------------------------------------

const ADJ = ['compact', 'classic', 'deluxe', 'everyday', 'premium', 'basic', 'modern', 'sturdy', 'slim', 'simple'];
const NOUN = ['lamp', 'chair', 'kettle', 'backpack', 'blender', 'jacket', 'notebook', 'speaker', 'towel',
  'bottle', 'pan', 'helmet', 'watch', 'tent', 'desk', 'mug', 'pillow', 'scarf'];
const MATERIAL = ['cotton', 'steel', 'oak', 'plastic', 'glass', 'ceramic', 'aluminium', 'bamboo', 'wool'];
const COLOR = ['red', 'blue', 'grey', 'green', 'black', 'white', 'yellow'];
const USE = ['everyday use', 'the office', 'weekend trips', 'small apartments', 'students', 'families', 'gifts'];
const CATEGORY = ['Kitchen', 'Office', 'Outdoor', 'Travel', 'Home', 'Sports', 'Garden', 'Electronics'];

// The planted rows: a fact, a keyword question with a rare word of it, and a
// paraphrase that shares none of its words of 4+ letters.
const PLANTED = [
  ['Melody kettle', 'Kitchen', 'Whistles a lullaby when the water boils.', 'kettle that plays a lullaby', 'tea boiler singing a bedtime tune once it is hot'],
  ['Storm umbrella', 'Outdoor', 'Canopy lined with graphene to survive hurricane gusts.', 'graphene umbrella', 'rain shield built to withstand violent tempest winds'],
  ['Sun pack', 'Travel', 'Backpack with a solar panel that charges phones on hikes.', 'solar panel backpack', 'rucksack powered by daylight to refill mobile batteries while trekking'],
  ['Rhythm lamp', 'Office', 'Dims itself by following a circadian sensor.', 'circadian lamp', 'table light that lowers brightness according to the body clock'],
  ['Warm mug', 'Kitchen', 'Keeps coffee hot with a built-in induction coil.', 'induction coil mug', 'cup that electrically heats your drink so it never gets cold'],
  ['Trail boots', 'Outdoor', 'Resoled with recycled tire rubber from Patagonia.', 'Patagonia boots', 'walking shoes whose soles come from reused car wheels'],
  ['Chess set', 'Home', 'Pieces carved by artisans in Kyoto.', 'Kyoto chess', 'board game figures sculpted by Japanese craftspeople'],
  ['Quiet blender', 'Kitchen', 'Crushes ice silently thanks to an acoustic dampening shell.', 'acoustic blender', 'food mixer that makes almost no noise grinding frozen cubes'],
  ['Nap pod', 'Office', 'Reclining capsule for siestas during lunch breaks.', 'capsule for siestas', 'enclosed bed to sleep briefly at midday at work'],
  ['Bee hotel', 'Garden', 'Bamboo tubes that shelter solitary pollinators.', 'shelter for pollinators', 'nesting box for wild bees in the yard'],
  ['Snore guard', 'Home', 'Mouthpiece that stops snoring by moving the jaw forward.', 'snoring mouthpiece', 'dental insert so your partner can rest without nighttime noise'],
  ['Drone kit', 'Electronics', 'Quadcopter with thermal imaging for search and rescue.', 'thermal quadcopter', 'flying camera that sees body heat to find missing people'],
  ['Sourdough jar', 'Kitchen', 'Fermentation crock with a starter feeding schedule.', 'sourdough starter', 'container for growing wild yeast to bake tangy bread'],
  ['Ski goggles', 'Sports', 'Anti-fog lenses with a heads-up altimeter display.', 'altimeter goggles', 'snow glasses that show your elevation on the mountain'],
  ['Cat feeder', 'Home', 'Dispenses kibble on a timer while owners travel.', 'kibble timer', 'automatic bowl that gives pets dry food when nobody is around'],
  ['Rowing machine', 'Sports', 'Uses a water flywheel to mimic a real scull.', 'scull rowing', 'indoor boat workout trainer with liquid resistance'],
  ['Seed vault', 'Garden', 'Airtight tin that keeps heirloom seeds viable for a decade.', 'heirloom seeds', 'sealed box to preserve old plant varieties for ten years'],
  ['Sleep mask', 'Travel', 'Blocks light and plays binaural beats through thin speakers.', 'binaural mask', 'eye cover that helps you doze off with special audio tones'],
  ['Fondue pot', 'Kitchen', 'Melts Gruyère and chocolate over a tealight.', 'Gruyère fondue', 'dish for dipping bread into melted cheese at the table'],
  ['Rain barrel', 'Garden', 'Collects runoff from the gutter for watering.', 'gutter runoff', 'tank that saves rainwater from the roof for plants'],
  ['Typewriter', 'Office', 'Mechanical keyboard clicks like a 1950s Olivetti.', 'Olivetti keyboard', 'retro clacky keys resembling an old writing machine'],
  ['Hammock', 'Outdoor', 'Parachute nylon bed slung between two trees.', 'parachute nylon hammock', 'hanging fabric sling for resting in the woods'],
  ['Night light', 'Home', 'Projects constellations onto the nursery ceiling.', 'nursery constellations', 'lamp that shows stars above a baby room'],
  ['Tire gauge', 'Sports', 'Bicycle pump with a digital pressure readout.', 'pressure readout pump', 'tool to inflate bike wheels and check air levels on a screen'],
  ['Cold brew maker', 'Kitchen', 'Steeps grounds for eighteen hours in the fridge.', 'cold brew eighteen hours', 'slow coffee that soaks overnight in the refrigerator'],
  ['Compass watch', 'Outdoor', 'Wristwatch with a magnetic bearing dial for orienteering.', 'orienteering wristwatch', 'timepiece that points north for navigation in the wild'],
  ['Book stand', 'Office', 'Holds cookbooks open at a readable angle.', 'cookbooks angle', 'recipe volume holder for the counter'],
  ['Tent heater', 'Outdoor', 'Catalytic propane warmer safe inside shelters.', 'catalytic propane heater', 'gas device to keep a camping canopy cozy in winter'],
  ['Aquarium', 'Home', 'Nano reef tank with a coral grow light.', 'coral reef tank', 'small saltwater fish habitat for growing marine life'],
  ['Yoga mat', 'Sports', 'Cork surface that stays grippy when sweaty.', 'cork yoga mat', 'stretching pad made from tree bark that does not slip with perspiration'],
  ['Label printer', 'Office', 'Prints braille stickers for the visually impaired.', 'braille stickers', 'device that embosses raised dots so blind people can read tags'],
  ['Smoker box', 'Garden', 'Hickory chips infuse barbecue with smoky flavor.', 'hickory chips', 'wood flakes that give grilled meat a campfire taste'],
];
const plantedId = (k) => 37 + 71 * k;

function rowsOf() {
  const planted = new Map(PLANTED.map((p, k) => [plantedId(k), p]));
  const out = [];
  for (let i = 1; i <= ROWS; i++) {
    const price = `${5 + ((i * 37) % 200)}.99`;
    const p = planted.get(i);
    if (p) {
      out.push([i, p[0], p[1], p[2], price]);
      continue;
    }
    const noun = NOUN[(i * 7) % NOUN.length];
    const name = `${ADJ[i % ADJ.length]} ${noun} ${100 + i}`;
    const desc = `A ${ADJ[(i * 3) % ADJ.length]} ${noun} made of ${MATERIAL[(i * 5) % MATERIAL.length]} in `
      + `${COLOR[(i * 11) % COLOR.length]}, good for ${USE[(i * 13) % USE.length]}.`;
    out.push([i, name, CATEGORY[(i * 17) % CATEGORY.length], desc, price]);
  }
  return out;
}

// Words that may be shared between a paraphrase and its row.
const COMMON = new Set(['that', 'with', 'when', 'from', 'your', 'this', 'have', 'they', 'them', 'then', 'than',
  'into', 'onto', 'over', 'does', 'what', 'which', 'about', 'for', 'the']);
const words = (s) => (s.toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '').match(/[a-z0-9]+/g) || [])
  .filter((w) => w.length >= 4 && !COMMON.has(w));

const QUESTIONS = [
  ...PLANTED.map((p, k) => ({ kind: 'keyword', q: p[3], id: String(plantedId(k)) })),
  ...PLANTED.map((p, k) => ({ kind: 'paraphrase', q: p[4], id: String(plantedId(k)) })),
];

// ---- server ---------------------------------------------------------------

let srv;
let call;
let dsId;

async function waitJob(jobId, ms = 300000) {
  const t0 = Date.now();
  for (;;) {
    const r = await call('GET', `/api/v1/jobs/${jobId}`);
    assert.equal(r.status, 200, r.text);
    if (!['queued', 'running'].includes(r.json.state)) return r.json;
    if (Date.now() - t0 > ms) throw new Error(`job ${jobId} still ${r.json.state}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

before(async () => {
  const esc = (s) => `'${String(s).replace(/'/g, "''")}'`;
  const values = rowsOf().map((r) => `(${r[0]}, ${esc(r[1])}, ${esc(r[2])}, ${esc(r[3])}, ${r[4]})`).join(',\n');
  pgAdmin(`DROP TABLE IF EXISTS ${TABLE};
    CREATE TABLE ${TABLE} (id integer PRIMARY KEY, name text NOT NULL, category text NOT NULL,
      description text NOT NULL, price numeric(8,2) NOT NULL);
    INSERT INTO ${TABLE} VALUES ${values};
    GRANT SELECT ON ${TABLE} TO ${E.VZ_PG_RO_USER}; ANALYZE ${TABLE};`);
  srv = await startServer();
  call = (m, p, b) => api(srv.url, m, p, { body: b, token: srv.token });
  const conn = (await call('POST', '/api/v1/db/connections', {
    name: 'pg', db_type: 'postgresql', host: '127.0.0.1', port: Number(E.VZ_PG_PORT),
    database: E.VZ_PG_DB, username: E.VZ_PG_RO_USER, password: E.VZ_PG_RO_PASSWORD, ssl_mode: 'disable',
  })).json;
  const r = await call('POST', `/api/v1/db/connections/${conn.id}/extract`, { tables: [{ table: TABLE }] });
  assert.equal(r.status, 202, r.text);
  dsId = r.json.datasets[0].dataset_id;
  const j = await waitJob(r.json.datasets[0].job_id);
  assert.equal(j.state, 'succeeded', j.error);
});
after(async () => {
  try { pgAdmin(`DROP TABLE IF EXISTS ${TABLE}`); } finally { if (srv) await srv.stop(); }
});

// ---- the test -------------------------------------------------------------

test('the generated table and questions are what they claim', async () => {
  assert.ok(QUESTIONS.length >= 30);
  const ds = (await call('GET', `/api/v1/datasets/${dsId}`)).json;
  assert.equal(ds.row_count, ROWS);
  assert.equal(ds.status, 'ready');
  const rows = rowsOf();
  const allText = rows.filter((r) => !PLANTED.some((_, k) => plantedId(k) === r[0]))
    .map((r) => `${r[1]} ${r[2]} ${r[3]}`.toLowerCase()).join(' ');
  for (const [k, p] of PLANTED.entries()) {
    const row = new Set(words(`${p[0]} ${p[1]} ${p[2]}`));
    // The paraphrase has none of the row's words of 4+ letters.
    const shared = words(p[4]).filter((w) => row.has(w));
    assert.deepEqual(shared, [], `paraphrase of row ${plantedId(k)} shares ${shared}: "${p[4]}"`);
    // The keyword question holds a word of the row that no filler row has.
    const rare = words(p[3]).filter((w) => row.has(w) && !new RegExp(`\\b${w}\\b`).test(allText));
    assert.ok(rare.length > 0, `keyword question of row ${plantedId(k)} has no rare word of it: "${p[3]}"`);
  }
});

test('recall@5 and MRR@10: hybrid ≥ each mode, vector beats keyword on paraphrases', async (t) => {
  const modes = ['keyword', 'vector', 'hybrid'];
  const ranks = {}; // mode -> [rank or 0 per question]
  const misses = [];
  for (const mode of modes) {
    ranks[mode] = [];
    for (const qq of QUESTIONS) {
      const r = await call('POST', '/api/v1/search', { query: qq.q, dataset_ids: [dsId], k: 10, mode });
      assert.equal(r.status, 200, r.text);
      const ids = [...new Set(r.json.results.map((x) => x.row_id))];
      const rank = ids.indexOf(qq.id) + 1;
      ranks[mode].push(rank > 0 && rank <= 10 ? rank : 0);
      if (!(rank > 0 && rank <= 5)) misses.push(`${mode} ${qq.kind} "${qq.q}" → row ${qq.id} at ${rank || '>10'}`);
    }
  }
  const stat = (mode, kind) => {
    const idx = QUESTIONS.map((q, i) => [q, i]).filter(([q]) => !kind || q.kind === kind).map(([, i]) => i);
    const rs = idx.map((i) => ranks[mode][i]);
    return {
      n: rs.length,
      recall: rs.filter((x) => x >= 1 && x <= 5).length / rs.length,
      mrr: rs.reduce((s, x) => s + (x ? 1 / x : 0), 0) / rs.length,
    };
  };
  const S = {};
  for (const m of modes) S[m] = { all: stat(m), keyword: stat(m, 'keyword'), paraphrase: stat(m, 'paraphrase') };
  const f = (x) => x.toFixed(3);
  const nk = S.hybrid.keyword.n;
  const np = S.hybrid.paraphrase.n;
  const lines = [
    `### Retrieval quality, ${ROWS} generated products, ${QUESTIONS.length} questions `
      + `(${new Date().toISOString().slice(0, 10)}, tests/e2e/retrieval.test.mjs)`,
    '',
    `| mode | recall@5 all (${QUESTIONS.length}) | MRR@10 all | recall@5 keyword q. (${nk}) | MRR@10 keyword q. `
      + `| recall@5 paraphrases (${np}) | MRR@10 paraphrases |`,
    '|---|---|---|---|---|---|---|',
    ...modes.map((m) => `| ${m} | ${f(S[m].all.recall)} | ${f(S[m].all.mrr)} | ${f(S[m].keyword.recall)} `
      + `| ${f(S[m].keyword.mrr)} | ${f(S[m].paraphrase.recall)} | ${f(S[m].paraphrase.mrr)} |`),
    '',
    `Embedding model: ${(await call('GET', `/api/v1/datasets/${dsId}`)).json.embed_model}. `
      + 'Keyword questions carry a rare exact word of the planted row; paraphrases share no word of 4+ letters with it.',
    '',
  ];
  const table = lines.join('\n');
  console.log(`\n${table}`);
  t.diagnostic('misses (not in the top 5):');
  for (const m of misses) t.diagnostic(m);
  writeFileSync(join(repo, 'bench', 'retrieval-latest.md'), table);

  for (const m of ['keyword', 'vector']) {
    assert.ok(S.hybrid.all.recall >= S[m].all.recall,
      `hybrid recall@5 ${f(S.hybrid.all.recall)} < ${m} ${f(S[m].all.recall)}`);
  }
  assert.ok(S.vector.paraphrase.recall > S.keyword.paraphrase.recall,
    `vector recall@5 on paraphrases ${f(S.vector.paraphrase.recall)} ≤ keyword ${f(S.keyword.paraphrase.recall)}`);
});
