// The phone side shared by the scenario scripts: WatermelonDB databases whose schema comes
// from the server's OpenAPI document, synchronize() with the fetch calls of WatermelonDB's
// sync documentation, record helpers and tus-js-client uploads. BASE is the server's URL.
'use strict'

const assert = require('node:assert/strict')
const crypto = require('node:crypto')
const tus = require('tus-js-client')
const { Database, Model, appSchema, tableSchema } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { addColumns, schemaMigrations } = require('@nozbe/watermelondb/Schema/migrations')
const { synchronize } = require('@nozbe/watermelondb/sync')
const { setGenerator } = require('@nozbe/watermelondb/utils/common/randomId')
const { logger } = require('@nozbe/watermelondb/utils/common')

const env = (name) => {
  const value = process.env[name]
  if (!value) throw new Error(`${name} is required`)
  return value
}
const BASE = env('BASE')

// The server takes client-generated UUIDs (README "Sync protocol"); WatermelonDB's default
// ids are 16 random characters, so an app sets the generator, as this one does.
setGenerator(() => crypto.randomUUID())

// WatermelonDB reports what it takes for server bugs through its logger: collect them all.
const diagnostics = []
for (const level of ['warn', 'error']) {
  const original = logger[level].bind(logger)
  logger[level] = (...args) => {
    diagnostics.push(args.map(String).join(' '))
    original(...args)
  }
}

// Version 2 is the server's record shapes; version 1 is an older app without
// findings.is_systemic, which it gains by a migration (SYNC_PROTOCOL.md: `migration`).
const ADDED = { table: 'findings', column: 'is_systemic' }
const MIGRATIONS = schemaMigrations({
  migrations: [{
    toVersion: 2,
    steps: [addColumns({
      table: ADDED.table, columns: [{ name: ADDED.column, type: 'boolean', isOptional: true }],
    })],
  }],
})

async function fetchSchemas() {
  const res = await fetch(`${BASE}/api/openapi.json`)
  assert.equal(res.status, 200)
  const doc = await res.json()
  const schemas = doc.components.schemas
  const pull = schemas.SyncPull.properties.changes.properties
  const type = (prop) => (prop.type === 'boolean' ? 'boolean'
    : prop.type === 'integer' || prop.type === 'number' ? 'number' : 'string')
  const tables = []
  for (const name of Object.keys(pull)) {
    const changes = schemas[pull[name].$ref.split('/').pop()]
    // Push-only tables (interviews, allegations) come down as empty lists: their columns
    // are those of their push record.
    const ref = changes.properties.created.items.$ref
    const record = ref ? ref.split('/').pop()
      : name.replace(/(^|_)(\w)/g, (_, __, c) => c.toUpperCase()) + 'PushRecord'
    const columns = Object.entries(schemas[record].properties)
      .filter(([column]) => column !== 'id')
      .map(([column, prop]) => ({ name: column, type: type(prop), isOptional: true }))
    tables.push({ name, columns })
  }
  const older = tables.map(({ name, columns }) => tableSchema({
    name, columns: columns.filter((c) => name !== ADDED.table || c.name !== ADDED.column),
  }))
  return {
    v1: appSchema({ version: 1, tables: older }),
    v2: appSchema({ version: 2, tables: tables.map(tableSchema) }),
  }
}

const modelsOf = (schema) => Object.keys(schema.tables).map((table) => {
  const cls = class extends Model {}
  cls.table = table
  return cls
})

function makeDatabase(schema, name) {
  // an app's migrations go up to its schema's version
  const migrations = schema.version === 2 ? MIGRATIONS : schemaMigrations({ migrations: [] })
  const adapter = new LokiJSAdapter({
    schema, migrations, dbName: name, useWebWorker: false,
    useIncrementalIndexedDB: true, // Node has no IndexedDB: LokiJS keeps it in memory
  })
  return new Database({ adapter, modelClasses: modelsOf(schema) })
}

// The fetch calls of WatermelonDB's sync documentation (Sync > Backend), plus the token, the
// rejected ids of the push's answer and a retry of 409 by pulling again (as the docs say).
function syncFns(token, stats, { afterPull, loseResponse }) {
  const auth = { Authorization: `Bearer ${token}` }
  return {
    pullChanges: async ({ lastPulledAt, schemaVersion, migration }) => {
      const urlParams = `last_pulled_at=${lastPulledAt}&schema_version=${schemaVersion}` +
        `&migration=${encodeURIComponent(JSON.stringify(migration))}`
      const response = await fetch(`${BASE}/api/v1/sync?${urlParams}`, { headers: auth })
      if (!response.ok) throw new Error(`pull ${response.status}: ${await response.text()}`)
      const { changes, timestamp, ...rest } = await response.json()
      stats.pulls += 1
      stats.hasMore = rest.has_more
      if (migration) stats.migrations.push(migration)
      if (rest.experimentalStrategy) stats.strategies.push(rest.experimentalStrategy)
      if (afterPull && stats.pulls === 1) await afterPull()
      return { changes, timestamp, ...rest }
    },
    pushChanges: async ({ changes, lastPulledAt }) => {
      const response = await fetch(`${BASE}/api/v1/sync?last_pulled_at=${lastPulledAt}`, {
        method: 'POST', headers: auth, body: JSON.stringify(changes),
      })
      if (!response.ok) {
        const error = new Error(`push ${response.status}: ${await response.text()}`)
        error.status = response.status
        throw error
      }
      stats.pushes += 1
      const answer = await response.json()
      if (loseResponse && stats.pushes === 1) {  // the server applied it; we never hear so
        const error = new Error('the push response was lost')
        error.lost = true
        throw error
      }
      stats.rejected = answer.rejected || []
      return { experimentalRejectedIds: answer.experimentalRejectedIds }
    },
  }
}

// One sync as an app runs it: again at once while the server says has_more, and once more
// after a 409 (someone changed what we pushed since our pull: pull, merge, push again) or a
// push whose answer never came (`loseResponse`: the link dropped after the server applied it).
// `afterPull`: something to run between the first pull and its push (another phone's sync).
async function sync(db, token, { afterPull, loseResponse } = {}) {
  const stats = {
    pulls: 0, pushes: 0, conflicts: 0, lost: 0, rejected: [], migrations: [], strategies: [],
  }
  const fns = syncFns(token, stats, { afterPull, loseResponse })
  for (let attempt = 0; attempt < 1000; attempt += 1) {
    try {
      await synchronize({ database: db, ...fns, migrationsEnabledAtVersion: 1 })
    } catch (error) {
      if (error.status === 409 && stats.conflicts < 3) {
        stats.conflicts += 1
        continue
      }
      if (error.lost && stats.lost < 1) {
        stats.lost += 1
        continue
      }
      throw error
    }
    if (!stats.hasMore) return stats
  }
  throw new Error('sync did not settle')
}

const all = async (db, table) => (await db.get(table).query().fetch()).map((r) => r._raw)
const one = async (db, table, id) => (await db.get(table).find(id))._raw

async function create(db, table, values) {
  let made
  await db.write(async () => {
    made = await db.get(table).create((r) => {
      for (const [k, v] of Object.entries(values)) r._setRaw(k, v)
    })
  })
  return made._raw.id
}

async function update(db, table, id, values) {
  await db.write(async () => {
    const record = await db.get(table).find(id)
    await record.update((r) => {
      for (const [k, v] of Object.entries(values)) r._setRaw(k, v)
    })
  })
}

// One upload with tus-js-client, as an app sends it (`abortAfter`: stop after that many
// chunks, as a dropped link would; the URL to resume from is returned either way).
function tusUpload(token, file, photoId, { abortAfter, ...options }) {
  return new Promise((resolve, reject) => {
    let chunks = 0
    const upload = new tus.Upload(file.data, {
      endpoint: `${BASE}/api/v1/uploads`,
      headers: { Authorization: `Bearer ${token}` },
      metadata: { photo_id: photoId, sha256: file.sha256, filename: 'cell-14.jpg' },
      retryDelays: null,
      ...options,
      onChunkComplete: () => {
        chunks += 1
        if (chunks === abortAfter) upload.abort().then(() => resolve(upload.url), reject)
      },
      onError: reject,
      onSuccess: () => (abortAfter ? reject(new Error('finished before the abort'))
        : resolve(upload.url)),
    })
    upload.start()
  })
}

module.exports = {
  ADDED, MIGRATIONS, all, create, diagnostics, env, fetchSchemas, makeDatabase, modelsOf, one,
  sync, tusUpload, update,
}
