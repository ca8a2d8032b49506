// Keeps the result page live: one WebSocket to this service's /ws, every frame redraws the
// numbers, and a dropped socket is retried with exponential backoff and jitter (so that a
// restarted service is not hit by every projector and phone at the same instant) while the
// page says it is reconnecting. The first frame after a reconnect is the full tally, so the
// page re-syncs by itself. The server renders the same numbers first, so this script only
// keeps them current.
//
// A socket can also die without a close (a projector whose Wi-Fi roams leaves it half open,
// and the browser may take minutes to notice). The server sends a frame at least once per
// heartbeat, which the page states on this script's tag; silence for 2.5 heartbeats, or a
// connection that does not open in that time, counts as a drop.
(function () {
  'use strict';

  var FIRST_RETRY_MS = 500;
  var MAX_RETRY_MS = 10000;
  // The server's default, for a page that does not say.
  var DEFAULT_HEARTBEAT_MS = 10000;
  // Two missed heartbeats and a half for the network's jitter.
  var STALE_HEARTBEATS = 2.5;

  var heartbeatMs =
    Number(document.currentScript && document.currentScript.dataset.heartbeatMs) ||
    DEFAULT_HEARTBEAT_MS;
  var staleAfterMs = STALE_HEARTBEATS * heartbeatMs;

  var elements = {
    percentA: document.getElementById('percent-a'),
    percentB: document.getElementById('percent-b'),
    barA: document.getElementById('bar-a'),
    barB: document.getElementById('bar-b'),
    total: document.getElementById('total'),
    connection: document.getElementById('connection'),
  };
  var failedAttempts = 0;

  // The same rules as the server's rendering (SPEC section 5).
  function totalText(total) {
    if (total === 0) return 'No votes yet';
    if (total === 1) return '1 vote';
    return total + ' votes';
  }

  // Writes only what changed, so that screen readers announce the total once per change.
  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function render(frame) {
    var a = frame.counts.a;
    var b = frame.counts.b;
    var total = a + b;
    var percentA = total > 0 ? Math.round((100 * a) / total) : null;
    setText(elements.percentA, percentA === null ? '' : percentA + '%');
    setText(elements.percentB, percentA === null ? '' : 100 - percentA + '%');
    elements.barA.value = percentA === null ? 50 : percentA;
    elements.barB.value = percentA === null ? 50 : 100 - percentA;
    setText(elements.total, totalText(total));
  }

  function showReconnecting(reconnecting) {
    elements.connection.hidden = !reconnecting;
    document.body.classList.toggle('reconnecting', reconnecting);
  }

  function retryDelay() {
    var ceiling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * Math.pow(2, failedAttempts));
    failedAttempts += 1;
    // "Equal jitter": at least half the backoff, the rest random.
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  function connect() {
    var scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    var socket = new WebSocket(scheme + '//' + window.location.host + '/ws');
    var staleTimer;
    var dropped = false;

    // Once per socket, however it ended: a close, an error, or silence.
    function drop() {
      if (dropped) return;
      dropped = true;
      window.clearTimeout(staleTimer);
      socket.onmessage = socket.onclose = socket.onerror = null;
      // A half-open socket never confirms the close; the page does not wait for it.
      socket.close();
      showReconnecting(true);
      window.setTimeout(connect, retryDelay());
    }

    function expectFrameSoon() {
      window.clearTimeout(staleTimer);
      staleTimer = window.setTimeout(drop, staleAfterMs);
    }

    expectFrameSoon();
    socket.onmessage = function (event) {
      expectFrameSoon();
      failedAttempts = 0;
      showReconnecting(false);
      render(JSON.parse(event.data));
    };
    socket.onclose = drop;
    socket.onerror = drop;
  }

  connect();
})();
