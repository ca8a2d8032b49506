// Keeps the result page live: one WebSocket to this service's /ws, every frame redraws the
// numbers, and a dropped socket is retried with exponential backoff and jitter (so that a
// restarted service is not hit by every projector and phone at the same instant) while the
// page says it is reconnecting. The first frame after a reconnect is the full tally, so the
// page re-syncs by itself. The server renders the same numbers first, so this script only
// keeps them current.
(function () {
  'use strict';

  var FIRST_RETRY_MS = 500;
  var MAX_RETRY_MS = 10000;

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
    socket.onmessage = function (event) {
      failedAttempts = 0;
      showReconnecting(false);
      render(JSON.parse(event.data));
    };
    socket.onclose = function () {
      showReconnecting(true);
      window.setTimeout(connect, retryDelay());
    };
  }

  connect();
})();
