// Live updates: the artifact's Server-Sent Events stream. The stream says `ready` first; only then
// are the comments loaded, so nothing falls between the load and the stream. The browser
// reconnects by itself (resuming with Last-Event-ID). When the stream is refused, a plain request
// to the same address tells why: signed out (401), artifact gone (404), or too many streams (429),
// in which case the page polls every 10 s and tries the stream again now and then.

const POLL_MS = 10_000;
/** While polling, try the stream again after this many polls. */
const RETRY_STREAM_EVERY = 6;
/** An interrupted stream is only reported to the person when it stays down this long. */
const QUIET_RECONNECT_MS = 4_000;

export class LiveUpdates {
  /**
   * @param token  the artifact's share token
   * @param on     {ready(), event(data), poll(), ended(code) (the stream's last word: why it ends),
   *               signedOut(refusal) (the 401's {code, error}, or null), gone() (the stream answered 404),
   *               connection(ok: boolean)}
   */
  constructor(token, on) {
    this.url = `/api/v1/artifacts/${encodeURIComponent(token)}/events`;
    this.on = on;
    this.source = null;
    this.pollTimer = null;
    this.polls = 0;
    this.downTimer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    clearInterval(this.pollTimer);
    this.pollTimer = null;
    clearTimeout(this.downTimer);
  }

  open() {
    if (this.stopped) return;
    this.source?.close();
    const source = new EventSource(this.url);
    this.source = source;
    source.onmessage = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return; // not ours to guess at
      }
      if (!data || typeof data.type !== 'string') return;
      if (data.type === 'end') {
        // The server says why it ends the stream: ask at once rather than reconnect to learn it.
        this.on.ended?.(data.code);
        source.close();
        if (source === this.source) {
          this.source = null;
          this.probe();
        }
        return;
      }
      this.connected();
      if (data.type === 'ready') this.on.ready();
      else this.on.event(data);
    };
    source.onerror = () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        // Refused outright (not a dropped connection): find out why.
        this.source = null;
        this.probe();
      } else if (!this.downTimer) {
        // The browser is reconnecting; say so only if it takes a while.
        this.downTimer = setTimeout(() => this.on.connection(false), QUIET_RECONNECT_MS);
      }
    };
  }

  connected() {
    clearTimeout(this.downTimer);
    this.downTimer = null;
    this.on.connection(true);
  }

  /** Asks the stream's address with a plain request, reads the status, and hangs up. */
  async probe() {
    if (this.stopped) return;
    const abort = new AbortController();
    let status = 0;
    let refusal = null; // a 401's error body: {code, error}
    try {
      const res = await fetch(this.url, { headers: { Accept: 'text/event-stream' }, credentials: 'same-origin', signal: abort.signal });
      status = res.status;
      if (status === 401) refusal = await res.json().catch(() => null);
    } catch {
      status = 0;
    } finally {
      abort.abort();
    }
    if (this.stopped) return;
    if (status === 401) {
      this.stop();
      this.on.signedOut(refusal);
    } else if (status === 404) {
      // The artifact is gone or no longer shared (the page checks which); poll meanwhile.
      this.startPolling();
      this.on.gone();
    } else if (status === 429 || status === 503) {
      this.startPolling();
    } else if (status >= 200 && status < 300) {
      this.stopPolling();
      this.open();
    } else {
      // The server is unreachable or answered oddly: keep the page current by polling meanwhile.
      this.on.connection(false);
      this.startPolling();
    }
  }

  startPolling() {
    if (this.pollTimer) return;
    this.polls = 0;
    this.pollTimer = setInterval(() => {
      this.polls += 1;
      this.on.poll();
      if (this.polls % RETRY_STREAM_EVERY === 0) this.probe();
    }, POLL_MS);
    // The comments may already have changed while the stream was refused.
    this.on.poll();
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }

  get polling() {
    return this.pollTimer !== null;
  }
}
