// WatermelonDB's replacement strategy against a live server: phone A holds findings; phone B
// deletes one; the server then prunes that delete past its retention (the test does it while
// this script waits: it prints `PAUSE prune` and reads a line). A's cursor is now older than
// the retention, so its next pull is a replacement: the finding B deleted disappears from A,
// A's offline edit and its new finding survive and are pushed, and WatermelonDB logs nothing
// (the server labels what A holds `updated`, not `created`).
//
//   BASE=… TOKENS=mad_a,mad_b VISIT_ID=… node tests/clients/watermelon_replacement.cjs
'use strict'

const assert = require('node:assert/strict')
const readline = require('node:readline')
const { all, create, diagnostics, env, fetchSchemas, makeDatabase, one, sync, update } =
  require('./phone.cjs')

const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]()

async function pause(name) {
  process.stdout.write(`PAUSE ${name}\n`)
  await lines.next()
}

async function main() {
  const schemas = await fetchSchemas()
  const [tokenA, tokenB] = env('TOKENS').split(',')
  const visitId = env('VISIT_ID')
  const a = makeDatabase(schemas.v2, 'phone-a')
  const b = makeDatabase(schemas.v2, 'phone-b')
  const finding = (title) => ({
    visit_id: visitId, theme: 'treatment', severity: 'serious', title,
  })
  await sync(a, tokenA)
  const gone = await create(a, 'findings', finding('Deleted on the other phone'))
  const kept = await create(a, 'findings', finding('Kept'))
  await sync(a, tokenA)
  await sync(b, tokenB)
  await b.write(async () => { await (await b.get('findings').find(gone)).markAsDeleted() })
  await sync(b, tokenB)
  // A, offline for a long time, edits a finding and records a new one.
  await update(a, 'findings', kept, { description: 'Edited offline' })
  const fresh = await create(a, 'findings', finding('Recorded offline'))

  await pause('prune')

  const replaced = await sync(a, tokenA)
  assert.equal(replaced.strategies.join(), 'replacement')
  const findings = Object.fromEntries((await all(a, 'findings')).map((f) => [f.id, f]))
  assert.equal(findings[gone], undefined, 'the deleted finding is dropped by the replacement')
  assert.equal(findings[kept].description, 'Edited offline')
  assert.equal(findings[kept]._status, 'synced')
  assert.equal(findings[fresh]._status, 'synced')
  assert.equal((await one(a, 'visits', visitId))._status, 'synced')
  // The next pull is incremental again, and B gets A's edit and new finding.
  const after = await sync(a, tokenA)
  assert.deepEqual(after.strategies, [])
  await sync(b, tokenB)
  assert.equal((await one(b, 'findings', kept)).description, 'Edited offline')
  assert.equal((await one(b, 'findings', fresh)).title, 'Recorded offline')
  process.stdout.write(JSON.stringify({ ids: { gone, kept, fresh }, diagnostics }) + '\n')
  if (diagnostics.length) {
    throw new Error(`WatermelonDB sync diagnostics: ${diagnostics.join(' | ')}`)
  }
}

// Exit either way: LokiJS and the HTTP agents keep timers that would hold the process open.
main().then(() => process.exit(0), (error) => {
  process.stderr.write(`${error.stack || error}\n`)
  process.exit(1)
})
