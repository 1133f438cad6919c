{# The web app serves this file rendered with Jinja2 (bot/web/rendering.py): the texts in braces come from Python.
   Comments are Jinja2 comments, so that they are not sent to every visitor. #}
/* Restorative Gloucestershire chat widget. No dependencies; loads only its own stylesheet.
 * Bot text is only ever inserted as text nodes, so a reply can never become markup or script. */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.__rgChatWidget) return;
  window.__rgChatWidget = true;

  var ds = script.dataset;
  var scriptOrigin = new URL(script.src, location.href).origin;
  var server = httpUrl(ds.server) ? ds.server.replace(/\/+$/, '') : scriptOrigin;
  var title = (ds.title || 'Chat with us').slice(0, 60);
  var exitUrl = httpUrl(ds.exitUrl) ? ds.exitUrl : {{ default_exit_url|tojson }};
  var colour = /^#[0-9a-f]{6}$/i.test(ds.primaryColour || '') ? ds.primaryColour : '#1d4f6e';
  {# Shown when this server cannot be reached at all, so the server writes it in when it serves this file. #}
  var ERROR_TEXT = {{ unavailable_message|tojson }};
  var KEYS = { sender: 'rgChat.sender', log: 'rgChat.log', open: 'rgChat.open' };
  var MAX_KEPT = 200;
  {# An answer the visitor may rate, as the server names it; anything else gets no buttons. #}
  var ANSWER_RE = /^faq\/[a-z0-9_]{1,60}$/;
  {# Shift pressed three times within this many milliseconds leaves the page, as GOV.UK's "Exit this page" does. #}
  var SHIFT_WINDOW_MS = 5000;

  function httpUrl(value) {
    if (!value) return false;
    try { return /^https?:$/.test(new URL(value, location.href).protocol); } catch (e) { return false; }
  }

  {# sessionStorage can throw (blocked storage, private modes); the chat still works, just without memory. #}
  function load(key) { try { return sessionStorage.getItem(key); } catch (e) { return null; } }
  function save(key, value) { try { sessionStorage.setItem(key, value); } catch (e) { /* not kept */ } }
  function forget() { for (var k in KEYS) { try { sessionStorage.removeItem(KEYS[k]); } catch (e) { /* nothing kept */ } } }

  function newSender() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var hex = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
    return hex.slice(0, 8) + '-' + hex.slice(8, 12) + '-' + hex.slice(12, 16) + '-' + hex.slice(16, 20) + '-' + hex.slice(20);
  }

  var sender = load(KEYS.sender);
  if (!/^[0-9a-f-]{36}$/i.test(sender || '')) { sender = newSender(); save(KEYS.sender, sender); }
  var history = [];
  try { history = JSON.parse(load(KEYS.log) || '[]'); if (!Array.isArray(history)) history = []; } catch (e) { history = []; }

  function keep() { save(KEYS.log, JSON.stringify(history.slice(-MAX_KEPT))); }

  {# Pick white or near-black text on the chosen colour, whichever reads better (WCAG contrast). #}
  function luminance(hex) {
    var c = [1, 3, 5].map(function (i) {
      var v = parseInt(hex.substr(i, 2), 16) / 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }
  var onColour = 1.05 / (luminance(colour) + 0.05) >= 4.5 ? '#ffffff' : '#111111';

  var link = document.createElement('link');
  link.rel = 'stylesheet';
  link.href = scriptOrigin + '/widget.css';
  document.head.appendChild(link);

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  var root = el('div', 'rgw');
  root.style.setProperty('--rgw-primary', colour);
  root.style.setProperty('--rgw-on-primary', onColour);

  var launcher = el('button', 'rgw-launcher', title);
  launcher.type = 'button';
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', 'rgw-panel');

  var panel = el('div', 'rgw-panel');
  panel.id = 'rgw-panel';
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'rgw-title');

  var head = el('div', 'rgw-head');
  var heading = el('h2', 'rgw-title', title);
  heading.id = 'rgw-title';
  var exitButton = el('button', 'rgw-exit', 'Quick exit');
  exitButton.type = 'button';
  exitButton.setAttribute('aria-describedby', 'rgw-exit-hint');
  var closeButton = el('button', 'rgw-close');
  closeButton.type = 'button';
  closeButton.setAttribute('aria-label', 'Close chat');
  closeButton.appendChild(el('span', '', '\u00d7')).setAttribute('aria-hidden', 'true');
  head.appendChild(heading);
  head.appendChild(exitButton);
  head.appendChild(closeButton);

  {# Always on show, outside the log: never scrolled away, never read out again with each new message. #}
  var safety = el('div', 'rgw-safety');
  var danger = el('p', 'rgw-danger', 'In danger now? Call ');
  var call = el('a', 'rgw-call', '999');
  call.href = 'tel:999';
  danger.appendChild(call);
  danger.appendChild(document.createTextNode('. This chat is not watched.'));
  var exitHint = el('p', 'rgw-exit-hint', 'To leave quickly, press Shift 3 times.');
  exitHint.id = 'rgw-exit-hint';
  safety.appendChild(danger);
  safety.appendChild(exitHint);

  var log = el('div', 'rgw-log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.setAttribute('aria-label', 'Conversation');
  log.tabIndex = 0;

  var status = el('p', 'rgw-status');
  status.setAttribute('role', 'status');

  var form = el('form', 'rgw-form');
  var label = el('label', 'rgw-label', 'Your message');
  label.htmlFor = 'rgw-input';
  var input = el('textarea', 'rgw-input');
  input.id = 'rgw-input';
  input.rows = 2;
  input.maxLength = 1000;
  input.setAttribute('autocomplete', 'off');
  var send = el('button', 'rgw-send', 'Send');
  send.type = 'submit';
  var row = el('div', 'rgw-row');
  row.appendChild(input);
  row.appendChild(send);
  form.appendChild(label);
  form.appendChild(row);

  panel.appendChild(head);
  panel.appendChild(safety);
  panel.appendChild(log);
  panel.appendChild(status);
  panel.appendChild(form);
  root.appendChild(panel);
  root.appendChild(launcher);

  {# Only http(s) addresses become links; everything else, "javascript:" included, stays plain text. #}
  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  function appendText(parent, text) {
    var last = 0, m;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text))) {
      var url = m[0].replace(/[.,;:!?)\]]+$/, '');
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = document.createElement('a');
      a.href = url;
      a.textContent = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      parent.appendChild(a);
      last = m.index + url.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(entry, index) {
    var item = el('div', 'rgw-msg rgw-' + entry.from);
    item.appendChild(el('span', 'rgw-sr', entry.from === 'user' ? 'You said: ' : (entry.from === 'error' ? '' : 'Assistant: ')));
    var body = el('span', 'rgw-text');
    appendText(body, entry.text || '');
    item.appendChild(body);
    if (entry.buttons && entry.buttons.length) {
      var group = el('div', 'rgw-buttons');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', 'Suggested replies');
      entry.buttons.forEach(function (b) {
        var button = el('button', 'rgw-choice', b.title);
        button.type = 'button';
        button.disabled = !!entry.used;
        button.addEventListener('click', function () { choose(entry, group, b); });
        group.appendChild(button);
      });
      item.appendChild(group);
    }
    if (entry.answer) item.appendChild(rating(entry));
    if (entry.retry) {
      var again = el('button', 'rgw-choice rgw-retry', 'Try again');
      again.type = 'button';
      again.addEventListener('click', function () {
        item.parentNode && item.parentNode.removeChild(item);
        post(entry.retry.message);
      });
      item.appendChild(again);
    }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
    return item;
  }

  {# "Was this helpful?" under an answer the server marked as rateable. A vote is not a chat message: it never #}
  {# waits for `busy`, and it is given once per answer (kept as `voted` in the history, like `used` for buttons). #}
  var ratings = 0;
  function rating(entry) {
    var box = el('div', 'rgw-rate');
    var said = el('p', 'rgw-rate-said');
    said.setAttribute('role', 'status');
    if (entry.voted) {
      said.textContent = 'Thanks for telling us.';
      box.appendChild(said);
      return box;
    }
    var ask = el('div', 'rgw-rate-ask');
    var question = el('span', 'rgw-rate-q', 'Was this helpful?');
    question.id = 'rgw-rate-q' + (++ratings);
    ask.setAttribute('role', 'group');
    ask.setAttribute('aria-labelledby', question.id);
    ask.appendChild(question);
    var sending = false;
    [[true, 'Yes', 'Yes, this answer helped'], [false, 'No', 'No, this answer didn\'t help']].forEach(function (v) {
      var button = el('button', 'rgw-rate-btn', v[1]);
      button.type = 'button';
      button.setAttribute('aria-label', v[2]);
      button.addEventListener('click', function () { vote(v[0]); });
      ask.appendChild(button);
    });
    box.appendChild(ask);
    box.appendChild(said);

    function pending(on) {
      sending = on;
      {# aria-disabled, not disabled: a disabled button would drop the keyboard focus. #}
      Array.prototype.forEach.call(ask.querySelectorAll('button'), function (b) {
        b.setAttribute('aria-disabled', on ? 'true' : 'false');
      });
    }
    function vote(helpful) {
      if (sending || entry.voted) return;
      pending(true);
      said.textContent = '';
      var controller = window.AbortController ? new AbortController() : null;
      var timer = setTimeout(function () { controller && controller.abort(); }, 15000);
      fetch(server + '/feedback', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ sender: sender, answer: entry.answer, helpful: helpful }),
        credentials: 'omit',
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) throw new Error('not sent');
        entry.voted = true;
        keep();
        var hadFocus = ask.contains(document.activeElement);
        {# The thanks takes the buttons' place at the same height, so nothing below moves. #}
        box.style.minHeight = box.getBoundingClientRect().height + 'px';
        box.removeChild(ask);
        said.textContent = 'Thanks for telling us.';
        if (hadFocus) { said.tabIndex = -1; said.focus({ preventScroll: true }); }
      }).catch(function () {
        pending(false);
        said.textContent = 'Sorry, that didn\'t send.';
      }).then(function () { clearTimeout(timer); });
    }
    return box;
  }

  function add(entry) {
    if (entry.from !== 'error') { history.push(entry); keep(); }
    render(entry);
  }

  function choose(entry, group, button) {
    if (busy) return;
    entry.used = true;
    keep();
    Array.prototype.forEach.call(group.querySelectorAll('button'), function (b) { b.disabled = true; });
    input.focus();
    add({ from: 'user', text: button.title });
    post(button.payload);
  }

  var busy = false;
  function setBusy(on) {
    busy = on;
    status.textContent = on ? 'Typing\u2026' : '';
    send.setAttribute('aria-disabled', on ? 'true' : 'false');
  }

  function post(message) {
    setBusy(true);
    var controller = window.AbortController ? new AbortController() : null;
    var timer = setTimeout(function () { controller && controller.abort(); }, 35000);
    fetch(server + '/chat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sender: sender, message: message }),
      credentials: 'omit',
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) throw data;
        return data;
      });
    }).then(function (data) {
      setBusy(false);
      (data.messages || []).forEach(function (m) {
        var entry = { from: 'bot', text: m.text || '', buttons: (m.buttons || []).slice(0, 10) };
        if (typeof m.answer === 'string' && ANSWER_RE.test(m.answer)) entry.answer = m.answer;
        add(entry);
      });
    }).catch(function (data) {
      setBusy(false);
      var kind = data && data.error;
      var retry = kind === 'message_too_long' || kind === 'empty_message' ? null : { message: message };
      add({ from: 'error', text: (kind && kind !== 'unavailable' && data.message) || ERROR_TEXT, retry: retry });
    }).then(function () { clearTimeout(timer); });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) return;
    input.value = '';
    add({ from: 'user', text: text });
    post(text);
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit ? form.requestSubmit() : form.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });

  function open(focus) {
    panel.hidden = false;
    root.classList.add('rgw-is-open');
    launcher.setAttribute('aria-expanded', 'true');
    save(KEYS.open, '1');
    if (focus) input.focus();
    if (!history.length && !busy) post("/greet");
  }
  function close() {
    panel.hidden = true;
    root.classList.remove('rgw-is-open');
    launcher.setAttribute('aria-expanded', 'false');
    save(KEYS.open, '0');
    launcher.focus();
  }
  launcher.addEventListener('click', function () { panel.hidden ? open(true) : close(); });
  closeButton.addEventListener('click', close);
  panel.addEventListener('keydown', function (event) {
    if (event.key === 'Escape') { event.preventDefault(); close(); }
  });

  {# Quick exit, from the button or from Shift pressed three times: forget the conversation and leave. #}
  function quickExit() {
    forget();
    history = [];
    while (log.firstChild) log.removeChild(log.firstChild);
    input.value = '';
    panel.hidden = true;
    {# replace(): the Back button must not lead back to this page. #}
    location.replace(exitUrl);
  }
  exitButton.addEventListener('click', quickExit);

  {# Shift alone, three times within SHIFT_WINDOW_MS, anywhere on the page (widget open or not, typing or not). #}
  {# A held Shift repeats without counting again; any other key in between, or Shift pressed while Ctrl, Alt or #}
  {# Meta is held (switching keyboard layout, say), starts the count afresh. #}
  var shiftPresses = 0, firstShiftAt = 0;
  document.addEventListener('keydown', function (event) {
    if (event.key !== 'Shift' || event.ctrlKey || event.altKey || event.metaKey) { shiftPresses = 0; return; }
    if (event.repeat) return;
    var now = Date.now();
    if (!shiftPresses || now - firstShiftAt > SHIFT_WINDOW_MS) { shiftPresses = 0; firstShiftAt = now; }
    shiftPresses += 1;
    if (shiftPresses >= 3) { shiftPresses = 0; quickExit(); }
  }, true);

  function mount() {
    history.forEach(render);
    document.body.appendChild(root);
    if (load(KEYS.open) === '1') open(false);
  }
  if (document.body) mount(); else document.addEventListener('DOMContentLoaded', mount);
})();
