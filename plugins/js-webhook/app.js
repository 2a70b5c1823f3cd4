// POSTs every notification as JSON to `url`, with an `Idempotency-Key` header carrying the
// notification id, so a receiver can drop the duplicates a retry may cause.
//
// The JavaScript twin of plugins/webhook and plugins/python-webhook: same settings, same
// body bytes, same outcomes. componentize-js runs this module inside StarlingMonkey and
// maps the world's exports to the functions below (kebab-case WIT names become
// camelCase). The module's top level runs once at BUILD time (wizer snapshots it), so it
// must not call an import: only the exported functions may.
//
// HTTP goes through wasi:http directly rather than fetch(): fetch turns every failure into
// one TypeError, and a host outside `allowed_hosts` must stay a permanent failure while a
// refused connection is retried.
import { log } from 'emu-oncall:notifier/log@0.2.0';
import { handle } from 'wasi:http/outgoing-handler@0.2.12';
import {
  Fields,
  IncomingBody,
  OutgoingBody,
  OutgoingRequest,
  RequestOptions,
} from 'wasi:http/types@0.2.12';

const CHANNELS = ['sms', 'call', 'push', 'shift', 'test'];
// Extra headers come from `header.<Name> = "value"` settings.
const HEADER_PREFIX = 'header.';
// `blocking-write-and-flush` accepts at most 4096 bytes per call.
const WRITE_CHUNK = 4096;
// Only the status and a snippet for the logs matter; don't buffer a huge reply.
const MAX_RESPONSE_BYTES = 1024 * 1024;
const SNIPPET_CHARS = 300;
const RETRYABLE_STATUSES = [408, 425, 429];
const dispose = Symbol.dispose ?? Symbol.for('dispose');
const utf8 = new TextEncoder();
const lenientUtf8 = new TextDecoder(); // bad bytes become U+FFFD, as in the other twins

class ConfigError extends Error {}
class Retryable extends Error {}
class Permanent extends Error {}

/** The value of `key`, blank when unset (as the Rust SDK treats it). */
function setting(config, key) {
  for (const [name, value] of config) {
    if (name === key) return value.trim();
  }
  return '';
}

function urlOf(config) {
  const url = setting(config, 'url');
  if (!url) throw new ConfigError('`url` is required');
  if (!url.startsWith('http://') && !url.startsWith('https://')) {
    throw new ConfigError('`url` must start with http:// or https://');
  }
  return url;
}

function timeoutSecs(config) {
  const text = setting(config, 'timeout_secs') || '10';
  const secs = /^[0-9]{1,3}$/.test(text) ? Number(text) : 0;
  if (secs >= 1 && secs <= 120) return secs;
  throw new ConfigError(`\`timeout_secs\` must be 1 to 120, not "${text}"`);
}

// ---- the body: the JSON the Rust SDK's Notification::to_json writes, byte for byte ----

// serde_json sorts object keys by their UTF-8 bytes. JavaScript compares UTF-16 units and
// puts integer-like keys first in objects, so keys are sorted and written by hand.
function compareUtf8(a, b) {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const shared = Math.min(x.length, y.length);
  for (let i = 0; i < shared; i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

function toJson(value) {
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'bigint') return value.toString(); // WIT u64, e.g. alert-group.number
  if (Array.isArray(value)) return `[${value.map(toJson).join(',')}]`;
  if (value instanceof Map) {
    const keys = [...value.keys()].sort(compareUtf8);
    return `{${keys.map((key) => `${JSON.stringify(key)}:${toJson(value.get(key))}`).join(',')}}`;
  }
  if (typeof value === 'object') return toJson(new Map(Object.entries(value)));
  return JSON.stringify(value); // strings, numbers and booleans escape as serde_json does
}

function body(notification) {
  const recipient = notification.recipient;
  const group = notification.alertGroup;
  return utf8.encode(
    toJson({
      id: notification.id,
      channel: notification.channel,
      message: notification.message,
      recipient: {
        id: recipient.id,
        email: recipient.email,
        username: recipient.username,
        name: recipient.name,
        phone_number: recipient.phoneNumber,
        role: recipient.role,
        attributes: new Map(recipient.attributes), // a repeated key: the last one wins
      },
      alert_group:
        group === undefined
          ? null
          : {
              id: group.id,
              number: group.number,
              title: group.title,
              state: group.state,
              integration: group.integration,
              permalink: group.permalink,
              labels: new Map(group.labels),
              started_at: group.startedAt,
            },
      attempt: notification.attempt,
      created_at: notification.createdAt,
    }),
  );
}

// ---- one POST over wasi:http ----

// An imported function's `result` error arrives as an Error with the WIT value in
// `payload`; anything else is a bug and is rethrown.
function witError(err) {
  if (err !== null && typeof err === 'object' && 'payload' in err) return err.payload;
  throw err;
}

function fromErrorCode(code) {
  if (code?.tag === 'HTTP-request-denied') {
    return new Permanent(
      "request denied by the host: the host is not in this plugin's allowed_hosts",
    );
  }
  return new Retryable(`HTTP request failed: ${code?.tag ?? 'unknown error'}`);
}

function describeStreamError(error) {
  if (error?.tag === 'last-operation-failed') return error.val.toDebugString();
  return 'stream closed';
}

function splitUrl(url) {
  const https = url.startsWith('https://');
  const rest = url.slice(https ? 'https://'.length : 'http://'.length);
  const ends = [rest.indexOf('/'), rest.indexOf('?')].filter((at) => at >= 0);
  const cut = ends.length > 0 ? Math.min(...ends) : rest.length;
  const authority = rest.slice(0, cut);
  if (!authority) throw new Permanent(`bad URL: "${url}" has no host`);
  return { https, authority, pathWithQuery: rest.slice(cut) || '/' };
}

function request(url, headers, payload) {
  const target = splitUrl(url);
  let fields;
  try {
    // A declared length spares receivers a chunked body.
    const declared = [...headers, ['Content-Length', String(payload.length)]];
    fields = Fields.fromList(declared.map(([name, value]) => [name, utf8.encode(value)]));
  } catch (err) {
    throw new Permanent(`bad URL: bad header: ${witError(err)?.tag}`);
  }
  const outgoing = new OutgoingRequest(fields);
  try {
    outgoing.setMethod({ tag: 'post' });
    outgoing.setScheme({ tag: target.https ? 'HTTPS' : 'HTTP' });
    outgoing.setAuthority(target.authority);
    outgoing.setPathWithQuery(target.pathWithQuery);
  } catch {
    throw new Permanent(`bad URL: "${url}" refused`);
  }
  return outgoing;
}

function options(timeout) {
  const options = new RequestOptions();
  const nanos = BigInt(timeout) * 1_000_000_000n; // a WIT duration is u64 nanoseconds
  for (const set of ['setConnectTimeout', 'setFirstByteTimeout', 'setBetweenBytesTimeout']) {
    try {
      options[set](nanos);
    } catch {
      // A host may not support every timeout; what it refuses stays unset.
    }
  }
  return options;
}

/** Writes the body; returns what went wrong, or undefined. */
function writeBody(outgoingBody, payload) {
  let stream;
  try {
    stream = outgoingBody.write();
  } catch {
    return 'request body stream unavailable';
  }
  try {
    for (let start = 0; start < payload.length; start += WRITE_CHUNK) {
      try {
        stream.blockingWriteAndFlush(payload.subarray(start, start + WRITE_CHUNK));
      } catch (err) {
        return `writing the body: ${describeStreamError(witError(err))}`;
      }
    }
    return undefined;
  } finally {
    // The stream is a child of the body: it must be dropped before `finish`.
    stream[dispose]();
  }
}

/** Returns [status, body bytes]; throws Retryable or Permanent. */
function post(url, headers, payload, timeout) {
  const outgoing = request(url, headers, payload);
  const outgoingBody = outgoing.body(); // taken before `handle`, which consumes the request
  let future;
  try {
    future = handle(outgoing, options(timeout));
  } catch (err) {
    throw fromErrorCode(witError(err));
  }

  // A refused request closes the body stream; the response future then says why, which
  // is the error worth reporting, so a write error waits until after it.
  const writeError = writeBody(outgoingBody, payload);
  let finishError;
  try {
    OutgoingBody.finish(outgoingBody, undefined);
  } catch (err) {
    finishError = { code: witError(err) };
  }

  const ready = future.subscribe();
  try {
    ready.block();
  } finally {
    ready[dispose]();
  }
  const outer = future.get(); // option<result<result<incoming-response, error-code>>>
  future[dispose]();
  // Nothing (not ready) cannot follow `block`; err means the response was already taken.
  if (outer === undefined || outer.tag !== 'ok') {
    throw new Retryable('HTTP request failed: no response');
  }
  if (outer.val.tag === 'err') throw fromErrorCode(outer.val.val);
  const response = outer.val.val;
  try {
    if (writeError) throw new Retryable(`HTTP request failed: ${writeError}`);
    if (finishError) throw fromErrorCode(finishError.code);
    return [response.status(), readBody(response)];
  } finally {
    response[dispose]();
  }
}

function readBody(response) {
  const incoming = response.consume();
  const chunks = [];
  let size = 0;
  const stream = incoming.stream();
  try {
    while (size < MAX_RESPONSE_BYTES) {
      let chunk;
      try {
        chunk = stream.blockingRead(64n * 1024n); // a WIT u64 is a BigInt
      } catch (err) {
        const error = witError(err);
        if (error?.tag === 'closed') break;
        throw new Retryable(
          `HTTP request failed: reading the response: ${describeStreamError(error)}`,
        );
      }
      chunks.push(chunk);
      size += chunk.length;
    }
  } finally {
    // The input stream is a child of the body: drop it before `finish`.
    stream[dispose]();
  }
  IncomingBody.finish(incoming)[dispose]();
  const data = new Uint8Array(Math.min(size, MAX_RESPONSE_BYTES));
  let at = 0;
  for (const chunk of chunks) {
    const part = chunk.subarray(0, data.length - at);
    data.set(part, at);
    at += part.length;
  }
  return data;
}

// ---- the world's exports ----
// A `result` export returns its ok value and THROWS its err value. For `failure` that
// must be the plain variant object: a bare Error (with no `payload`) traps the instance.

export function describe() {
  return { name: 'js-webhook', version: '0.1.0', channels: CHANNELS };
}

export function validateConfig(config) {
  try {
    urlOf(config);
    timeoutSecs(config);
  } catch (err) {
    if (err instanceof ConfigError) throw err.message;
    throw err;
  }
}

export function notify(config, notification) {
  let url;
  let timeout;
  try {
    url = urlOf(config);
    timeout = timeoutSecs(config);
  } catch (err) {
    if (err instanceof ConfigError) throw { tag: 'permanent', val: err.message };
    throw err;
  }
  const headers = [
    ['Content-Type', 'application/json'],
    ['Idempotency-Key', notification.id],
    ...config
      .filter(([name]) => name.startsWith(HEADER_PREFIX))
      .map(([name, value]) => [name.slice(HEADER_PREFIX.length), value]),
  ];
  let status;
  let reply;
  try {
    [status, reply] = post(url, headers, body(notification), timeout);
  } catch (err) {
    if (err instanceof Retryable) throw { tag: 'retryable', val: err.message };
    if (err instanceof Permanent) throw { tag: 'permanent', val: err.message };
    throw err;
  }

  log('debug', `notification ${notification.id}: HTTP ${status}`);
  if (status >= 200 && status <= 299) return { providerId: undefined, detail: `HTTP ${status}` };
  // Code points, not UTF-16 units, so a snippet never ends in half a character.
  const snippet = Array.from(lenientUtf8.decode(reply)).slice(0, SNIPPET_CHARS).join('').trim();
  const detail = `HTTP ${status}: ${snippet}`;
  if (RETRYABLE_STATUSES.includes(status) || (status >= 500 && status <= 599)) {
    throw { tag: 'retryable', val: detail };
  }
  throw { tag: 'permanent', val: detail };
}

// A webhook has no provider to call back. A plugin whose provider does checks the
// provider's signature here, reads `request.body`, and names events: plugins/README.md.
export function handleInbound(_config, _request, _outcomes) {
  return {
    status: 404,
    headers: [['content-type', 'text/plain']],
    body: utf8.encode('this plugin takes no calls'),
    events: [],
  };
}
