// Three phones on WatermelonDB's own synchronize() (tests/clients/phone.cjs) doing random
// field work on one visit, offline, each syncing when the dice say: rooms and findings
// created, edited column by column and deleted, concurrent edits of the same records. At the
// end every phone syncs until nothing moves; they must then hold the same rooms and findings
// as each other, and WatermelonDB must have logged nothing it takes for a server bug.
//
//   BASE=… TOKENS=mad_a,mad_b,mad_c VISIT_ID=… SEED=7 STEPS=150 \
//   node tests/clients/watermelon_random.cjs
//
// It prints one JSON line: the seed, counts, and the converged records (for the test to
// compare with the server's rows).
'use strict'

const assert = require('node:assert/strict')
const { all, create, diagnostics, env, fetchSchemas, makeDatabase, sync, update } =
  require('./phone.cjs')

// A small seeded generator (mulberry32): a failing run can be replayed from its seed.
function random(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ROOM_COLUMNS = ['visit_id', 'label', 'room_kind', 'occupants', 'floor_area_m2']
const FINDING_COLUMNS = ['visit_id', 'room_inspection_id', 'theme', 'severity', 'title',
  'description', 'sources_count']
const SEVERITIES = ['critical_urgent', 'serious', 'moderate', 'minor']

const pick = (rand, list) => list[Math.floor(rand() * list.length)]
const live = (records) => records.filter((r) => r._status !== 'deleted')
const shape = (records, columns) => Object.fromEntries(live(records)
  .map((r) => [r.id, Object.fromEntries(columns.map((c) => [c, r[c] ?? null]))])
  .sort(([x], [y]) => (x < y ? -1 : 1)))

async function state(db) {
  return {
    rooms: shape(await all(db, 'room_inspections'), ROOM_COLUMNS),
    findings: shape(await all(db, 'findings'), FINDING_COLUMNS),
  }
}

async function main() {
  const seed = Number(env('SEED'))
  const steps = Number(env('STEPS'))
  const visitId = env('VISIT_ID')
  const rand = random(seed)
  const schemas = await fetchSchemas()
  const phones = env('TOKENS').split(',').map((token, i) => ({
    token, db: makeDatabase(schemas.v2, `phone-${i}`),
  }))
  const counts = { syncs: 0, conflicts: 0, created: 0, edited: 0, deleted: 0 }
  // With pages, synchronize() pushes after each page: an edit of a record another phone
  // deleted can go up before the page that carries the delete comes down. The server refuses
  // it into the quarantine (an update of a deleted record); the next page removes it from the
  // phone. Nothing else may be refused.
  const refused = []
  const tally = (stats) => {
    counts.syncs += 1
    counts.conflicts += stats.conflicts
    for (const r of stats.rejected) {
      assert.deepEqual(r.errors, { id: ['This record was deleted on the server.'] },
        `refused: ${JSON.stringify(r)}`)
      refused.push(r.id)
    }
  }
  for (const phone of phones) tally(await sync(phone.db, phone.token))

  for (let step = 0; step < steps; step += 1) {
    const phone = pick(rand, phones)
    const rooms = live(await all(phone.db, 'room_inspections'))
    const findings = live(await all(phone.db, 'findings'))
    const dice = rand()
    if (dice < 0.25) {
      tally(await sync(phone.db, phone.token))
    } else if (dice < 0.35 || rooms.length === 0) {
      await create(phone.db, 'room_inspections', {
        visit_id: visitId, label: `Cell ${step}`, room_kind: 'cell',
        occupants: 1 + Math.floor(rand() * 20), floor_area_m2: 8 + Math.floor(rand() * 30),
      })
      counts.created += 1
    } else if (dice < 0.5 || findings.length === 0) {
      await create(phone.db, 'findings', {
        visit_id: visitId, room_inspection_id: pick(rand, rooms).id, theme: 'material_conditions',
        severity: pick(rand, SEVERITIES), title: `Finding ${step}`, sources_count: 1,
      })
      counts.created += 1
    } else if (dice < 0.65) {
      const room = pick(rand, rooms)
      await update(phone.db, 'room_inspections', room.id, rand() < 0.5
        ? { occupants: 1 + Math.floor(rand() * 20) } : { label: `Cell ${step}` })
      counts.edited += 1
    } else if (dice < 0.92) {
      const finding = pick(rand, findings)
      const edit = pick(rand, [{ title: `Title ${step}` }, { description: `Notes ${step}` },
        { severity: pick(rand, SEVERITIES) }, { sources_count: 1 + Math.floor(rand() * 5) }])
      await update(phone.db, 'findings', finding.id, edit)
      counts.edited += 1
    } else {
      const finding = pick(rand, findings)
      await phone.db.write(async () => {
        await (await phone.db.get('findings').find(finding.id)).markAsDeleted()
      })
      counts.deleted += 1
    }
  }

  // Everyone syncs until a full round moves nothing (two rounds: the last pushes of the
  // first reach the others in the second).
  for (let round = 0; round < 3; round += 1) {
    for (const phone of phones) tally(await sync(phone.db, phone.token))
  }
  const states = await Promise.all(phones.map((phone) => state(phone.db)))
  for (const [i, other] of states.entries()) {
    assert.deepEqual(other, states[0], `phone ${i} differs from phone 0 (seed ${seed})`)
  }
  for (const phone of phones) {
    for (const table of ['room_inspections', 'findings']) {
      const pending = (await all(phone.db, table)).filter((r) => r._status !== 'synced')
      assert.deepEqual(pending, [], `unsynced ${table} left (seed ${seed})`)
    }
  }
  process.stdout.write(JSON.stringify({ seed, counts, refused, state: states[0], diagnostics })
    + '\n')
  if (diagnostics.length) {
    throw new Error(`WatermelonDB sync diagnostics: ${diagnostics.join(' | ')}`)
  }
}

// Exit either way: LokiJS and the HTTP agents keep timers that would hold the process open.
main().then(() => process.exit(0), (error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
