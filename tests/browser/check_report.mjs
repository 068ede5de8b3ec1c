// check_report.mjs: opens the page of `edgelab bench --html` in Debian's
// headless Chromium and checks that it renders: no console or page errors,
// no request leaving the file (only file: and data: URLs), at least three
// svg.chart elements of non-zero size, none of them blank, and the percentile
// chart showing every series' colour (so the lines were drawn).
//
// Usage: node check_report.mjs REPORT.html [SCREENSHOT.png]
// Prints one line per check ("ok" or "FAIL"); exits 0 when all pass, 1 when
// one fails, 2 on a wrong command line or when Chromium cannot start.
// playwright-core drives /usr/bin/chromium (CHROMIUM overrides it) and never
// downloads a browser; `scripts/install-deps` installs both.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [report, screenshot] = process.argv.slice(2);
if (!report || process.argv.length > 4) {
  console.error('usage: node check_report.mjs REPORT.html [SCREENSHOT.png]');
  process.exit(2);
}
if (!existsSync(report)) {
  console.error(`check_report: ${report} does not exist`);
  process.exit(2);
}

// A chart is blank below this share of pixels off its background, its border
// left out (kInset px all round): axes and grid alone cover a few percent of
// a chart, its labels more.
const kMinInkShare = 0.005;
const kInset = 4;
// Pixels of a series' colour the percentile chart must have: a 2.5 px line
// across the chart leaves over a thousand; its legend swatch about 90.
const kMinSeriesPixels = 400;
// How far (sum of |dR|+|dG|+|dB|) a pixel may be from a colour and match it.
const kColorTolerance = 60;

let failures = 0;
function check(ok, what) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failures++;
}

function hexToRgb(hex) {
  const m = /^#([0-9a-f]{6})$/i.exec(hex ?? '');
  if (!m) return null;
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

// Runs in the page: decodes a PNG (base64) through an <img> and a canvas and
// counts the pixels inside `inset`: the background (the commonest colour),
// those off it, and those near each of `colors`.
async function analyzePng({ b64, colors, tolerance, inset }) {
  const img = new Image();
  img.src = `data:image/png;base64,${b64}`;
  await img.decode();
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  const w = Math.max(1, canvas.width - 2 * inset);
  const h = Math.max(1, canvas.height - 2 * inset);
  const { data } = ctx.getImageData(inset, inset, w, h);
  const counts = new Map();
  for (let i = 0; i < data.length; i += 4) {
    const key = (data[i] << 16) | (data[i + 1] << 8) | data[i + 2];
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  let bgKey = 0, bgCount = -1;
  for (const [key, n] of counts) if (n > bgCount) { bgKey = key; bgCount = n; }
  const bg = [(bgKey >> 16) & 255, (bgKey >> 8) & 255, bgKey & 255];
  const near = (i, c, tol) =>
    Math.abs(data[i] - c[0]) + Math.abs(data[i + 1] - c[1]) + Math.abs(data[i + 2] - c[2]) <= tol;
  let ink = 0;
  const hits = colors.map(() => 0);
  for (let i = 0; i < data.length; i += 4) {
    if (!near(i, bg, 30)) ink++;
    colors.forEach((c, k) => { if (near(i, c, tolerance)) hits[k]++; });
  }
  const pixels = data.length / 4;
  return { width: w, height: h, bg, inkShare: ink / pixels, hits };
}

async function checkCharts(page) {
  const charts = page.locator('svg.chart');
  const n = await charts.count();
  check(n >= 3, `${n} svg.chart elements (at least 3)`);
  const seriesColors = await page.$$eval(
    'svg.chart[data-chart="percentiles"] path.series', (paths) => paths.map((p) => p.getAttribute('stroke')));
  check(seriesColors.length > 0, `percentile chart has ${seriesColors.length} series line(s)`);
  for (let i = 0; i < n; i++) {
    const chart = charts.nth(i);
    const kind = (await chart.getAttribute('data-chart')) ?? `#${i + 1}`;
    const box = await chart.boundingBox();
    check(box !== null && box.width > 0 && box.height > 0,
      `chart ${kind}: bounding box ${box ? `${Math.round(box.width)}x${Math.round(box.height)}` : 'none'}`);
    if (!box || box.width === 0 || box.height === 0) continue;
    const png = await chart.screenshot();
    const colors = kind === 'percentiles' ? seriesColors.map(hexToRgb) : [];
    if (colors.includes(null)) {
      check(false, `chart ${kind}: series colours ${seriesColors.join(', ')} are not #rrggbb`);
      continue;
    }
    const a = await page.evaluate(analyzePng, {
      b64: png.toString('base64'), colors, tolerance: kColorTolerance, inset: kInset,
    });
    check(a.inkShare >= kMinInkShare,
      `chart ${kind}: not blank (${(a.inkShare * 100).toFixed(1)}% of ${a.width}x${a.height} px off background rgb(${a.bg}))`);
    colors.forEach((c, k) => check(a.hits[k] >= kMinSeriesPixels,
      `chart ${kind}: series ${seriesColors[k]} drawn (${a.hits[k]} px)`));
  }
}

async function main() {
  const userDataDir = mkdtempSync(path.join(tmpdir(), 'edgelab-chromium-'));
  let context;
  try {
    try {
      context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        viewport: { width: 1200, height: 900 },
        deviceScaleFactor: 1,
      });
    } catch (e) {
      console.error(`check_report: cannot start Chromium (${e.message.split('\n')[0]}); ` +
        'scripts/install-deps installs it');
      return 2;
    }
    const page = context.pages()[0] ?? (await context.newPage());
    const errors = [];
    const foreign = [];
    page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
    page.on('pageerror', (e) => errors.push(`page: ${e.message}`));
    context.on('request', (r) => {
      if (!/^(file|data):/.test(r.url())) foreign.push(r.url());
    });
    // Whatever asks for the network is refused as well as reported.
    await context.route(/^(?!file:|data:)/, (route) => route.abort());

    const url = pathToFileURL(path.resolve(report)).href;
    const response = await page.goto(url, { waitUntil: 'load' });
    await page.evaluate(() => document.fonts.ready);
    check(response === null || response.ok(), `loaded ${url}`);
    await checkCharts(page);
    const title = await page.title();
    check(title.length > 0, `title: ${title}`);
    const rows = await page.locator('table.figures tbody tr').count();
    check(rows > 0, `figure table has ${rows} rows`);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    check(overflow <= 0, `no horizontal scrolling at 1200 px (${Math.max(0, overflow)} px over)`);
    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`     screenshot ${screenshot}`);
    }
    check(errors.length === 0, `no console or page errors${errors.length ? `: ${errors.join('; ')}` : ''}`);
    check(foreign.length === 0, `no request outside file: and data:${foreign.length ? `: ${foreign.join(', ')}` : ''}`);
    return failures === 0 ? 0 : 1;
  } finally {
    if (context) await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

const code = await main().catch((e) => {
  console.error(`check_report: ${e.stack ?? e}`);
  return 1;
});
console.log(code === 0 ? 'check_report: all passed' : `check_report: ${failures} failed`);
process.exit(code);
