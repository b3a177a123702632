// Two phones running WatermelonDB's own synchronize() (LokiJS in memory, as in its tests)
// against a live monitor-api, with the fetch calls of WatermelonDB's sync documentation and
// nothing added but an Authorization header (SYNC_PROTOCOL.md). The app schema is generated
// from the server's OpenAPI document (<Table>Record), as a phone developer would.
//
// The photos' bytes go up with tus-js-client: its defaults (an empty POST, then one PATCH)
// for one, creation-with-upload in small chunks, aborted and resumed from its URL, for the
// other; the phone then syncs until the server has verified both.
//
//   BASE=http://127.0.0.1:8000 TOKEN_A=mad_… TOKEN_B=mad_… VISIT_ID=… FACILITY_ID=… \
//   PHOTO_FILES=a.jpg:b.jpg node tests/clients/watermelon_sync.cjs
//
// It prints one JSON line (the ids, for the test to check the server's side); a failed check
// or any WatermelonDB warning or error (it logs what it takes for server bugs) exits 1.
'use strict'

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const fs = require('node:fs')
const { Database, Q } = require('@nozbe/watermelondb')
const {
  ADDED, MIGRATIONS, all, create, diagnostics, env, fetchSchemas, makeDatabase, modelsOf, one,
  sync, tusUpload, update,
} = require('./phone.cjs')

async function main() {
  const schemas = await fetchSchemas()
  const a = makeDatabase(schemas.v2, 'phone-a') // the current app
  let b = makeDatabase(schemas.v1, 'phone-b') // an older app, upgraded at step 10
  const tokenA = env('TOKEN_A')
  const tokenB = env('TOKEN_B')
  const visitId = env('VISIT_ID')
  const out = {}

  // 1. First sync of phone A: the reference data and the team's visit arrive.
  out.first = await sync(a, tokenA)
  assert.ok((await all(a, 'facilities')).some((f) => f.id === env('FACILITY_ID')))
  const visit = await one(a, 'visits', visitId)
  assert.equal(visit._status, 'synced')

  // 2. A records a room, a finding in it, a photo of it and an interview (push-only).
  const now = Date.now()
  const room = await create(a, 'room_inspections', {
    visit_id: visitId, label: 'Cell 14', room_kind: 'cell', floor_area_m2: 12.5,
    occupants: 6, beds: 4, inspected_at: now,
  })
  const finding = await create(a, 'findings', {
    visit_id: visitId, room_inspection_id: room, theme: 'material_conditions',
    severity: 'serious', title: 'Six men in 12.5 m²', description: 'Measured with a laser.',
    standard_refs: '[{"instrument":"cpt","rule":"space"}]', sources_count: 2, is_systemic: true,
  })
  const files = env('PHOTO_FILES').split(':').map((path) => {
    const data = fs.readFileSync(path)
    return { data, sha256: crypto.createHash('sha256').update(data).digest('hex') }
  })
  const photos = []
  for (const [i, file] of files.entries()) {
    photos.push(await create(a, 'photos', {
      visit_id: visitId, finding_id: finding, sha256: file.sha256, byte_size: file.data.length,
      mime_type: 'image/jpeg', captured_at: now, lat: 38.5598, lng: 68.787,
      consent: 'obtained', caption: `Cell 14, bunks (${i + 1})`,
    }))
  }
  const photo = photos[0]
  const interview = await create(a, 'interviews', {
    visit_id: visitId, interviewee_code: 'D-07', category: 'detainee', gender: 'male',
    consent_to_record: true, conducted_at: now,
  })
  // and one the server must refuse (an unknown severity): kept locally, quarantined there
  const bad = await create(a, 'findings', {
    visit_id: visitId, theme: 'treatment', severity: 'apocalyptic', title: 'Bad enum',
  })
  out.push = await sync(a, tokenA)
  assert.deepEqual(out.push.rejected.map((r) => r.id), [bad])
  for (const [table, id] of [['room_inspections', room], ['findings', finding],
    ['photos', photo], ['interviews', interview]]) {
    assert.equal((await one(a, table, id))._status, 'synced', `${table} ${id} not synced`)
  }
  assert.equal((await one(a, 'findings', bad))._status, 'created', 'rejected record kept')
  // The app deletes push-only records once pushed (SYNC_PROTOCOL.md "Scoping").
  await a.write(async () => {
    await (await a.get('interviews').find(interview)).destroyPermanently()
  })

  // 3. Phone B (another monitor of the team) gets it all, values as A wrote them.
  out.firstB = await sync(b, tokenB)
  const bRoom = await one(b, 'room_inspections', room)
  assert.equal(bRoom.label, 'Cell 14')
  assert.equal(bRoom.floor_area_m2, 12.5)
  const bFinding = await one(b, 'findings', finding)
  assert.equal(bFinding.standard_refs, '[{"instrument":"cpt","rule":"space"}]')
  assert.equal(bFinding.room_inspection_id, room)
  const bPhoto = await one(b, 'photos', photo)
  assert.equal(bPhoto.lat, 38.5598)
  assert.equal(bPhoto.sha256, files[0].sha256)
  assert.equal(bPhoto.upload_status, 'pending')
  assert.equal((await all(b, 'interviews')).length, 0, 'push-only records never come down')
  assert.equal((await all(b, 'findings')).some((f) => f.id === bad), false)

  // 4. A sends the photos' bytes (tus-js-client), then syncs until both are verified.
  out.urls = [await tusUpload(tokenA, files[0], photos[0], {})]
  const options = { chunkSize: 256 * 1024, uploadDataDuringCreation: true }
  const url = await tusUpload(tokenA, files[1], photos[1], { ...options, abortAfter: 1 })
  out.urls.push(await tusUpload(tokenA, files[1], photos[1], { ...options, uploadUrl: url }))
  assert.equal(out.urls[1], url, 'resumed at the same URL')
  for (let i = 0; ; i += 1) {
    await sync(a, tokenA)
    const statuses = await Promise.all(photos.map(async (id) => (await one(a, 'photos', id))
      .upload_status))
    if (statuses.every((st) => st === 'verified')) break
    if (i > 60) throw new Error(`photos not verified: ${statuses}`)
    await new Promise((resolve) => setTimeout(resolve, 500))
  }

  // 5. Both phones edit the finding offline: A its description, B its severity. A syncs
  //    first; B's push is then checked column by column (_changed): no conflict, merged.
  await update(a, 'findings', finding, { description: 'Measured twice; 2.1 m² each.' })
  await update(b, 'findings', finding, { severity: 'critical_urgent' })
  out.editA = await sync(a, tokenA)
  out.editB = await sync(b, tokenB)
  out.mergeA = await sync(a, tokenA)
  for (const db of [a, b]) {
    const f = await one(db, 'findings', finding)
    assert.equal(f.description, 'Measured twice; 2.1 m² each.')
    assert.equal(f.severity, 'critical_urgent')
    assert.equal(f._status, 'synced')
  }

  // 6. The same column edited on both phones, and A's push lands between B's pull and B's
  //    push: B's push is a conflict (409); B pulls again, WatermelonDB keeps B's edit (the
  //    column is in _changed) and B pushes it with the new cursor.
  await update(a, 'findings', finding, { title: 'Title by A' })
  await update(b, 'findings', finding, { title: 'Title by B' })
  const aFirst = async () => { out.sameA = await sync(a, tokenA) }
  out.sameB = await sync(b, tokenB, { afterPull: aFirst })
  assert.equal(out.sameB.conflicts, 1)
  out.sameA2 = await sync(a, tokenA)
  assert.equal((await one(a, 'findings', finding)).title, 'Title by B')
  assert.equal((await one(b, 'findings', finding)).title, 'Title by B')

  // 7. B deletes a room it created by mistake; A's next sync removes it.
  const mistake = await create(b, 'room_inspections', {
    visit_id: visitId, label: 'typo', room_kind: 'other',
  })
  out.mistake = await sync(b, tokenB)
  out.mistakeA = await sync(a, tokenA)
  assert.equal((await one(a, 'room_inspections', mistake)).label, 'typo')
  await b.write(async () => {
    await (await b.get('room_inspections').find(mistake)).markAsDeleted()
  })
  out.deleteB = await sync(b, tokenB)
  out.deleteA = await sync(a, tokenA)
  assert.equal((await a.get('room_inspections').query(Q.where('id', mistake)).fetch()).length,
    0)

  // 8. A records a room and edits the finding, and the push's answer is lost: the next sync
  //    pulls A's own records back (as `updated`), pushes the same values again, and the
  //    server applies nothing twice (no conflict, no second revision).
  const late = await create(a, 'room_inspections', {
    visit_id: visitId, label: 'Cell 15', room_kind: 'cell', floor_area_m2: 9, occupants: 4,
  })
  await update(a, 'findings', finding, { sources_count: 3 })
  out.lost = await sync(a, tokenA, { loseResponse: true })
  assert.equal(out.lost.lost, 1)
  assert.equal(out.lost.conflicts, 0)
  assert.equal((await one(a, 'room_inspections', late))._status, 'synced')
  assert.equal((await one(a, 'findings', finding))._status, 'synced')
  out.lostB = await sync(b, tokenB)
  assert.equal((await one(b, 'room_inspections', late)).label, 'Cell 15')
  assert.equal((await one(b, 'findings', finding)).sources_count, 3)

  // 9. Nothing else changed: WatermelonDB pushes the rejected record again (it does on every
  //    sync until the app fixes or drops it); the server refuses it again, nothing moves.
  const before = await all(a, 'findings')
  out.idle = await sync(a, tokenA)
  assert.deepEqual(out.idle.rejected.map((r) => r.id), [bad])
  assert.deepEqual(await all(a, 'findings'), before)

  // 10. B's app is updated: schema 2 adds findings.is_systemic. WatermelonDB migrates the
  //     local database and its next pull asks for that column (`migration`); the server
  //     sends the findings whole, so B learns a value set before it had the column.
  assert.equal((await one(b, 'findings', finding)).is_systemic, undefined)
  // (the same LokiJS data reopened with the new schema, as WatermelonDB's own tests do it)
  const upgraded = await b.adapter.underlyingAdapter.testClone({
    schema: schemas.v2, migrations: MIGRATIONS,
  })
  b = new Database({ adapter: upgraded, modelClasses: modelsOf(schemas.v2) })
  out.migrated = await sync(b, tokenB)
  assert.deepEqual(out.migrated.migrations, [{ from: 1, tables: [],
    columns: [{ table: ADDED.table, columns: [ADDED.column] }] }])
  assert.equal((await one(b, 'findings', finding)).is_systemic, true)
  assert.equal((await one(b, 'findings', finding)).title, 'Title by B')

  out.ids = { room, finding, photos, interview, bad, mistake, late }
  out.diagnostics = diagnostics
  process.stdout.write(JSON.stringify(out) + '\n')
  if (diagnostics.length) {
    throw new Error(`WatermelonDB sync diagnostics: ${diagnostics.join(' | ')}`)
  }
}

// Exit either way: LokiJS and the HTTP agents keep timers that would hold the process open.
main().then(() => process.exit(0), (error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
