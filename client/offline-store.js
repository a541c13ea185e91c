/**
 * IndexedDB persistence for the interview client.
 *
 * Object stores:
 * - `state`: one record per application (the interview's phase, session, lastSeq, offline progress);
 * - `outbox`: every client message not yet acknowledged by the server, in the order it was made;
 * - `packs`: the cached offline question pack of each application;
 * - `recordings`: audio chunks recorded locally while offline;
 * - `quarantine`: outbox items the server refused for good (invalid, or too late): kept on this
 *   device, never resent, and not removed when the interview's other local data is cleared.
 *
 * Writes that protect the candidate's work use `durability: "strict"`, so a
 * record reported as saved survives a crash or a reload.
 * @module offline-store
 */

const DB_NAME = "interview-client";
const DB_VERSION = 2;
const PACK_KEY_PREFIX = "interview.pack.";

/**
 * @typedef {Object} OutboxItem
 * @property {string} id client message id (UUID), the server's idempotency key
 * @property {string} applicationId
 * @property {string} type wire type: answer.submit, transcript, event, question.next, session.complete...
 * @property {Object} payload the message fields other than `type` and `id`
 * @property {string} ts ISO 8601 time the candidate's action happened
 * @property {number} [n] insertion order (assigned by the store)
 */

/**
 * @typedef {Object} Refusal why the server refused an item for good
 * @property {string} id the item's id
 * @property {string} code the server's error code
 * @property {string} [message]
 * @property {string | null} [field] the offending field, when the server named one
 */

/**
 * @param {IDBRequest} request
 * @returns {Promise<any>}
 */
function done(request) {
  return new Promise((resolve, reject) => {
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

export class OfflineStore {
  /** @param {IDBDatabase} db */
  constructor(db) {
    this.db = db;
  }

  /**
   * Open (and create or upgrade) the database.
   * @param {string} [name]
   * @returns {Promise<OfflineStore>}
   */
  static async open(name = DB_NAME) {
    const request = indexedDB.open(name, DB_VERSION);
    request.onupgradeneeded = (event) => {
      const db = request.result;
      if (event.oldVersion < 1) {
        db.createObjectStore("state", { keyPath: "applicationId" });
        const outbox = db.createObjectStore("outbox", { keyPath: "n", autoIncrement: true });
        outbox.createIndex("byApplication", "applicationId");
        outbox.createIndex("byId", "id", { unique: true });
        db.createObjectStore("packs", { keyPath: "applicationId" });
        const recordings = db.createObjectStore("recordings", { keyPath: "n", autoIncrement: true });
        recordings.createIndex("byApplication", "applicationId");
      }
      if (event.oldVersion < 2) {
        const quarantine = db.createObjectStore("quarantine", { keyPath: "id" });
        quarantine.createIndex("byApplication", "applicationId");
      }
    };
    const db = await done(request);
    // Another tab upgrading the schema must not be blocked by us.
    db.onversionchange = () => db.close();
    return new OfflineStore(db);
  }

  /**
   * Run `work` in one transaction; resolves with its result once the transaction commits.
   * @template T
   * @param {string[]} stores
   * @param {IDBTransactionMode} mode
   * @param {(tx: IDBTransaction) => Promise<T> | T} work
   * @returns {Promise<T>}
   */
  async transaction(stores, mode, work) {
    const tx = this.db.transaction(stores, mode, { durability: mode === "readwrite" ? "strict" : "default" });
    const committed = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve(undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error("IndexedDB transaction aborted"));
    });
    let result;
    try {
      result = await work(tx);
    } catch (error) {
      committed.catch(() => {});
      try {
        tx.abort();
      } catch {
        // Already finished.
      }
      throw error;
    }
    await committed;
    return result;
  }

  /**
   * @param {string} applicationId
   * @returns {Promise<Object | undefined>}
   */
  getState(applicationId) {
    return this.transaction(["state"], "readonly", (tx) => done(tx.objectStore("state").get(applicationId)));
  }

  /** @param {Object} state a record with `applicationId` */
  async putState(state) {
    await this.transaction(["state"], "readwrite", (tx) => {
      tx.objectStore("state").put({ ...state, updatedAt: new Date().toISOString() });
    });
  }

  /**
   * Add a message to the outbox; resolves only when it is durably stored.
   * A second add with the same id is ignored (the first one stands).
   * @param {OutboxItem} item
   * @returns {Promise<void>}
   */
  async addOutbox(item) {
    await this.transaction(["outbox"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      const existing = await done(store.index("byId").getKey(item.id));
      if (existing === undefined) store.add({ ...item });
    });
  }

  /**
   * Add messages to the outbox and save the state in one transaction, so a reload
   * never sees an answer without the progress it made, or the reverse.
   * @param {OutboxItem[]} items
   * @param {Object} state
   */
  async addOutboxWithState(items, state) {
    await this.transaction(["outbox", "state"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      for (const item of items) {
        const existing = await done(store.index("byId").getKey(item.id));
        if (existing === undefined) store.add({ ...item });
      }
      tx.objectStore("state").put({ ...state, updatedAt: new Date().toISOString() });
    });
  }

  /**
   * Outbox items of an application, oldest first.
   * @param {string} applicationId
   * @returns {Promise<OutboxItem[]>}
   */
  listOutbox(applicationId) {
    return this.transaction(["outbox"], "readonly", (tx) =>
      done(tx.objectStore("outbox").index("byApplication").getAll(applicationId)),
    ).then((items) => items.sort((a, b) => a.n - b.n));
  }

  /**
   * @param {string} applicationId
   * @returns {Promise<number>}
   */
  countOutbox(applicationId) {
    return this.transaction(["outbox"], "readonly", (tx) =>
      done(tx.objectStore("outbox").index("byApplication").count(applicationId)),
    );
  }

  /**
   * Remove acknowledged items by id; unknown ids are ignored.
   * @param {string[]} ids
   * @returns {Promise<number>} how many were removed
   */
  async removeOutbox(ids) {
    if (!ids.length) return 0;
    return this.transaction(["outbox"], "readwrite", async (tx) => {
      const store = tx.objectStore("outbox");
      let removed = 0;
      for (const id of ids) {
        const key = await done(store.index("byId").getKey(id));
        if (key !== undefined) {
          store.delete(key);
          removed += 1;
        }
      }
      return removed;
    });
  }

  /**
   * Move refused items from the outbox to the quarantine, in one transaction: they are kept
   * here with the server's reason and are never sent again. Ids not in the outbox are ignored.
   * @param {Refusal[]} refusals
   * @returns {Promise<number>} how many were moved
   */
  async quarantine(refusals) {
    if (!refusals.length) return 0;
    return this.transaction(["outbox", "quarantine"], "readwrite", async (tx) => {
      const outbox = tx.objectStore("outbox");
      let moved = 0;
      for (const { id, code, message = "", field = null } of refusals) {
        const key = await done(outbox.index("byId").getKey(id));
        if (key === undefined) continue;
        const item = await done(outbox.get(key));
        const refusal = { code, message, field };
        tx.objectStore("quarantine").put({ ...item, refusal, refusedAt: new Date().toISOString() });
        outbox.delete(key);
        moved += 1;
      }
      return moved;
    });
  }

  /**
   * What the server refused for good for an application, oldest first.
   * @param {string} applicationId
   * @returns {Promise<(OutboxItem & {refusal: Object, refusedAt: string})[]>}
   */
  listQuarantine(applicationId) {
    return this.transaction(["quarantine"], "readonly", (tx) =>
      done(tx.objectStore("quarantine").index("byApplication").getAll(applicationId)),
    ).then((items) => items.sort((a, b) => a.n - b.n));
  }

  /**
   * Cache the offline pack (IndexedDB, with a localStorage copy as a second chance).
   * @param {string} applicationId
   * @param {Object} pack
   */
  async savePack(applicationId, pack) {
    await this.transaction(["packs"], "readwrite", (tx) => {
      tx.objectStore("packs").put({ applicationId, pack, savedAt: new Date().toISOString() });
    });
    try {
      localStorage.setItem(PACK_KEY_PREFIX + applicationId, JSON.stringify(pack));
    } catch {
      // Quota or privacy settings: IndexedDB holds the pack already.
    }
  }

  /**
   * @param {string} applicationId
   * @returns {Promise<Object | null>}
   */
  async getPack(applicationId) {
    const record = await this.transaction(["packs"], "readonly", (tx) =>
      done(tx.objectStore("packs").get(applicationId)),
    );
    if (record) return record.pack;
    try {
      const text = localStorage.getItem(PACK_KEY_PREFIX + applicationId);
      return text ? JSON.parse(text) : null;
    } catch {
      return null;
    }
  }

  /**
   * Append a chunk of the local recording.
   * @param {string} applicationId
   * @param {Blob} blob
   * @param {{segment: string, type: string}} meta the recorder run and its MIME type
   */
  async addRecordingChunk(applicationId, blob, { segment, type }) {
    await this.transaction(["recordings"], "readwrite", (tx) => {
      tx.objectStore("recordings").add({ applicationId, blob, segment, type, ts: new Date().toISOString() });
    });
  }

  /**
   * The recorded chunks, oldest first.
   * @param {string} applicationId
   * @returns {Promise<{blob: Blob, segment: string, type: string}[]>}
   */
  async listRecordingChunks(applicationId) {
    const records = await this.transaction(["recordings"], "readonly", (tx) =>
      done(tx.objectStore("recordings").index("byApplication").getAll(applicationId)),
    );
    return records.sort((a, b) => a.n - b.n).map(({ blob, segment, type }) => ({ blob, segment, type }));
  }

  /**
   * Drop the local recording (after the server stored it).
   * @param {string} applicationId
   */
  async clearRecording(applicationId) {
    await this.transaction(["recordings"], "readwrite", async (tx) => {
      const store = tx.objectStore("recordings");
      const keys = await done(store.index("byApplication").getAllKeys(applicationId));
      for (const key of keys) store.delete(key);
    });
  }

  /**
   * Forget everything about an application (after the server has acknowledged it all).
   * @param {string} applicationId
   */
  async clear(applicationId) {
    await this.transaction(["state", "outbox", "packs", "recordings"], "readwrite", async (tx) => {
      tx.objectStore("state").delete(applicationId);
      tx.objectStore("packs").delete(applicationId);
      for (const name of ["outbox", "recordings"]) {
        const store = tx.objectStore(name);
        const keys = await done(store.index("byApplication").getAllKeys(applicationId));
        for (const key of keys) store.delete(key);
      }
    });
    try {
      localStorage.removeItem(PACK_KEY_PREFIX + applicationId);
    } catch {
      // Nothing to remove.
    }
  }
}
