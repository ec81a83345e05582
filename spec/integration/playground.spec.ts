/**
 * The playground in a real browser: Debian's chromium, headless, driven by playwright-core against
 * `createServer({ playground: true })` on 127.0.0.1. Streamed lines appear before the program ends,
 * a PNG the program writes appears as an image, Stop ends a sleeping program, and the page logs no
 * errors; at 1280x800 and at a phone's 390 px nothing scrolls sideways and every control is in view.
 * Screenshots (desktop and phone size) go to the temp dir; their paths are printed.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createServer, type SandboxService } from '../../lib/server/server.js';
import { eventually } from '../helpers/eventually.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} is not installed (scripts/ensure-chromium.sh installs it as root with apt-get)`;
if (missing !== undefined) console.log(`# playground spec skipped: ${missing}`);

// A 2x2 red PNG from the standard library alone (the default image has no imaging package).
const WRITE_PNG = `import struct, zlib
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
rows = b"".join(b"\\x00" + b"\\xff\\x00\\x00" * 2 for _ in range(2))
png = b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
open("red.png", "wb").write(png)
print("wrote red.png")
`;

let service: SandboxService;
let base: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

before(async () => {
  if (missing !== undefined) return;
  service = createServer({ port: 0, playground: true, sandbox: { poolSize: 2 } });
  base = await service.listen();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text());
  });
  page.on('pageerror', (error) => pageErrors.push(error.message));
  await page.goto(base);
});

after(async () => {
  await browser?.close();
  await service?.close();
});

async function runInPage(code: string): Promise<void> {
  await page.getByLabel('Code').fill(code);
  await page.getByRole('button', { name: 'Run' }).click();
}

/** At this width nothing scrolls sideways, and the code, the buttons and the output are wholly in view across, none squeezed to nothing. */
async function assertFits(width: number): Promise<void> {
  const scrollWidth = Number(await page.evaluate('document.documentElement.scrollWidth'));
  assert.ok(scrollWidth <= width, `at ${width} px the page is ${scrollWidth} px wide: it scrolls sideways`);
  const controls = {
    'the Code editor': page.getByLabel('Code'),
    'the Run button': page.getByRole('button', { name: 'Run' }),
    'the Stop button': page.getByRole('button', { name: 'Stop' }),
    'the Output log': page.getByRole('log'),
  };
  for (const [name, control] of Object.entries(controls)) {
    const box = await control.boundingBox();
    assert.ok(box !== null, `${name} is shown at ${width} px`);
    assert.ok(box.x >= 0 && box.x + box.width <= width, `${name} at ${width} px spans ${box.x}..${box.x + box.width}`);
    assert.ok(box.width >= 40 && box.height >= 24, `${name} at ${width} px is ${box.width}x${box.height}: too small to use`);
  }
}

const output = (): Promise<string> => page.getByRole('log').innerText();
const status = (): Promise<string> => page.getByRole('status').innerText();

test('streamed lines appear before the program ends; then its status, exit code and duration', { skip: missing }, async (t) => {
  await runInPage('import time\nprint("first", flush=True)\ntime.sleep(1.5)\nprint("second")');
  await eventually('"first" shows', async () => (await output()).includes('first'), 10_000);
  const firstAt = performance.now();
  assert.ok(!(await output()).includes('second'), 'the program is still running');
  await eventually('the run ends', async () => /^ok, exit code 0, \d+ ms$/.test(await status()), 10_000);
  assert.ok(performance.now() - firstAt >= 1_000, '"first" came at least 1 s before the end');
  assert.equal(await output(), 'first\nsecond\n');
  const desktop = join(tmpdir(), `dps-playground-${process.pid}-1280x800.png`);
  await assertFits(1280);
  await page.screenshot({ path: desktop });
  await page.setViewportSize({ width: 390, height: 844 });
  await assertFits(390);
  const phone = join(tmpdir(), `dps-playground-${process.pid}-390x844.png`);
  await page.screenshot({ path: phone, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  t.diagnostic(`screenshots: ${desktop} ${phone}`);
});

test('a PNG the program writes appears as an image', { skip: missing }, async () => {
  await runInPage(WRITE_PNG);
  const image = page.getByRole('img', { name: 'red.png' });
  await image.waitFor({ timeout: 10_000 });
  assert.equal(await image.evaluate((element) => (element as unknown as { naturalWidth: number }).naturalWidth), 2);
});

test('Stop ends a sleeping program: its container is killed, the page says "stopped"', { skip: missing }, async () => {
  await runInPage('import time\nprint("sleeping", flush=True)\ntime.sleep(60)');
  await eventually('the program started', async () => (await output()).includes('sleeping'), 10_000);
  await page.getByRole('button', { name: 'Stop' }).click();
  await eventually('the page says stopped', async () => (await status()) === 'stopped', 5_000);
  await eventually('the run ended on the service', () => service.sandbox.stats().busy === 0, 5_000);
});

test('Ctrl+Enter runs, and the page logged no errors', { skip: missing }, async () => {
  await page.getByLabel('Code').fill('print(6 * 7)');
  await page.getByLabel('Code').press('Control+Enter');
  await eventually('the run ends', async () => (await status()).startsWith('ok'), 10_000);
  assert.equal(await output(), '42\n');
  assert.deepEqual(pageErrors, []);
});
