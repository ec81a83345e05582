/* global AbortController, TextDecoderStream, document, fetch, sessionStorage -- runs in the browser */
// The playground: runs the editor's code through POST /v1/run as server-sent events (read with
// fetch, so the token goes in a header), shows output as it arrives, then the status, exit code
// and duration, and every PNG the program wrote in its work dir.
const $ = (id) => document.getElementById(id);
const code = $('code');
const token = $('token');
const output = $('output');
const images = $('images');
const status = $('status');
const runButton = $('run');
const stopButton = $('stop');

token.value = sessionStorage.getItem('dps-token') ?? '';
token.addEventListener('input', () => sessionStorage.setItem('dps-token', token.value));

let running;

function append(text, kind) {
  const span = document.createElement('span');
  span.className = kind;
  span.textContent = text;
  output.append(span);
  output.scrollTop = output.scrollHeight;
}

function showImages(files) {
  for (const [path, base64] of Object.entries(files ?? {})) {
    if (!path.toLowerCase().endsWith('.png')) continue;
    const figure = document.createElement('figure');
    const img = document.createElement('img');
    img.src = `data:image/png;base64,${base64}`;
    img.alt = path;
    const caption = document.createElement('figcaption');
    caption.textContent = path;
    figure.append(img, caption);
    images.append(figure);
  }
}

function describe(result) {
  const code = result.exitCode === null ? '' : `, exit code ${result.exitCode}`;
  return `${result.status}${code}, ${Math.round(result.durationMs)} ms`;
}

async function run() {
  if (running) return;
  output.textContent = '';
  images.textContent = '';
  status.textContent = 'running…';
  const controller = new AbortController();
  running = controller;
  runButton.disabled = true;
  stopButton.disabled = false;
  const headers = { 'Content-Type': 'application/json', Accept: 'text/event-stream' };
  if (token.value) headers.Authorization = `Bearer ${token.value}`;
  try {
    const response = await fetch('/v1/run', {
      method: 'POST',
      headers,
      body: JSON.stringify({ code: code.value, collect: ['**/*.png'] }),
      signal: controller.signal,
    });
    if (!response.ok) {
      const body = await response.json().catch(() => ({}));
      status.textContent = `${response.status}: ${body.error?.message ?? response.statusText}`;
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffered = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffered += value;
      let end;
      while ((end = buffered.indexOf('\n\n')) >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === undefined || data === undefined) continue;
        const parsed = JSON.parse(data);
        if (event === 'stdout' || event === 'stderr') append(parsed, event);
        else if (event === 'result') {
          status.textContent = describe(parsed);
          showImages(parsed.files);
        } else if (event === 'error') status.textContent = `error: ${parsed.message}`;
      }
    }
  } catch (error) {
    status.textContent = controller.signal.aborted ? 'stopped' : `error: ${error.message}`;
  } finally {
    running = undefined;
    runButton.disabled = false;
    stopButton.disabled = true;
  }
}

runButton.addEventListener('click', run);
stopButton.addEventListener('click', () => running?.abort());
document.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    void run();
  }
});
