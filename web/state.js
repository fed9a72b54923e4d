// What the views share for the life of the page: the server's facts, the
// connections list, and each connection's table picks (kept while the user
// moves between tabs).
import { get } from './api.js';

export const state = {
  system: null,        // GET /system: {version, in_container, container_hint}
  connections: null,   // last GET /db/connections
  picks: new Map(),    // `${connId}|${schema}` -> Map(table -> {selected, excluded:Set})
  schemaOf: new Map(), // connId -> last schema shown
  searchAvailable: null,
};

export async function loadSystem() {
  if (state.system) return state.system;
  try {
    state.system = await get('/system');
  } catch {
    state.system = { version: '', in_container: false, container_hint: null };
  }
  return state.system;
}

export async function loadConnections() {
  const r = await get('/db/connections');
  state.connections = r.connections || [];
  return state.connections;
}

export function connectionName(id) {
  const c = (state.connections || []).find((x) => x.id === id);
  return c ? c.name : null;
}

export function picksFor(connId, schema) {
  const key = `${connId}|${schema}`;
  if (!state.picks.has(key)) state.picks.set(key, new Map());
  return state.picks.get(key);
}

export function navigate(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
